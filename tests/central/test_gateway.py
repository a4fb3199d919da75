"""Central's TCP gateway under bad input, slow clients, limits and silence."""
from __future__ import annotations

import socket
import time

from central_testkit import WireClient

from evharness.procs import wait_until
from evwire import encode_frame, make
from evwire import types as t
from evwire.auth import make_driver_auth_request
from evwire.compat import unix_time
from evwire.framing import cobs_encode, crc16_ccitt_false


def _frame_of_payload(payload: bytes) -> bytes:
    """A well-formed frame (COBS, CRC) around arbitrary payload bytes."""
    crc = crc16_ccitt_false(payload)
    return b"\x00" + cobs_encode(payload + bytes((crc >> 8, crc & 0xFF))) + b"\x00"


def _still_usable(client: WireClient) -> None:
    reply = client.request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D1", timestamp=unix_time()))
    assert reply["type"] == t.AVAILABLE_CPS_RESPONSE


def _error(client: WireClient) -> dict:
    return client.recv_type(t.ERROR_RESPONSE)


def test_bad_frames_get_an_error_and_the_connection_stays(central):
    client = central.driver("D1")
    _still_usable(client)

    client.send_raw(b"\x00this is not a frame at all\x00")
    assert _error(client)["code"] == "decode_error"
    _still_usable(client)

    client.send_raw(b"\x00" + b"\x07" * 9000 + b"\x00")  # far over the 4096-byte limit
    assert "longer than" in _error(client)["error"]
    _still_usable(client)

    client.send_raw(_frame_of_payload(b"\xff\xfe\x1c not cbor"))
    err = _error(client)
    assert "CBOR" in err["error"] or "decode" in err["error"]
    _still_usable(client)

    client.send_raw(_frame_of_payload(b"\x83\x01\x02\x03"))  # valid CBOR, but a list
    assert "not a CBOR map" in _error(client)["error"]
    _still_usable(client)
    client.close()


def test_invalid_messages_are_named(central):
    client = central.driver("D1")
    missing = make(t.CHARGE_REQUEST, driver_id="D1", timestamp=unix_time())
    err = client.request(missing)
    assert err["type"] == t.ERROR_RESPONSE and "missing field 'cp_id'" in err["error"]
    assert err["request_type"] == t.CHARGE_REQUEST

    wrong_kind = make(t.CHARGE_REQUEST, cp_id=7, driver_id="D1", timestamp=unix_time())
    assert "field 'cp_id' must be a text string" in client.request(wrong_kind)["error"]

    unknown = client.request(make("teleport_request", where="moon"))
    assert unknown["code"] == "unknown_type" and "teleport_request" in unknown["error"]

    no_id = {"type": t.CHARGE_REQUEST, "cp_id": "CP1", "driver_id": "D1", "timestamp": 1}
    client.send(no_id)
    assert "message_id" in _error(client)["error"]

    # Once it has spoken as a driver, a connection may not speak for a charge point.
    _still_usable(client)
    beat = client.request(make(t.HEARTBEAT_REQUEST, cp_id="CP1", status="AVAILABLE",
                               timestamp=unix_time()))
    assert beat["type"] == t.ERROR_RESPONSE and "driver connection" in beat["error"]
    _still_usable(client)
    client.close()


def test_garbage_on_a_monitor_connection_keeps_it(central):
    mon = central.monitor("CP1")
    mon.send_raw(b"\x00\x01\x02garbage\x00")
    assert mon.recv_type(t.ERROR_RESPONSE)["code"] == "decode_error"
    assert mon.heartbeat()["cp_status"] == t.CP_AVAILABLE
    mon.close()


def test_heartbeat_timeout_disconnects_with_tcp_open(central_factory):
    central = central_factory("CP1", heartbeat_timeout=1.0)
    mon = central.monitor("CP1")  # registered, then silent
    assert central.cp_status("CP1") == t.CP_AVAILABLE
    wait_until(lambda: central.cp_status("CP1") == t.CP_DISCONNECTED, timeout=10,
               what="DISCONNECTED after the heartbeat timeout")
    assert not mon.eof, "the TCP connection must still be open"
    wait_until(lambda: "no message for 1 s" in central.log(), timeout=5, what="timeout logged")
    # Any message counts as life again.
    assert mon.heartbeat()["status"] == t.SUCCESS
    assert central.cp_status("CP1") == t.CP_AVAILABLE
    mon.close()
    wait_until(lambda: central.cp_status("CP1") == t.CP_DISCONNECTED, timeout=5,
               what="DISCONNECTED on close")


def test_connection_close_disconnects_at_once(central):
    mon = central.monitor("CP1").beat()
    wait_until(lambda: central.cp_status("CP1") == t.CP_AVAILABLE, what="AVAILABLE")
    mon.close()
    # Well before the 3 s heartbeat timeout could explain it.
    wait_until(lambda: "CP1: AVAILABLE -> DISCONNECTED (connection closed)" in central.log(),
               timeout=5, what="disconnect on close")


def test_slow_reader_does_not_stall_others(central_factory):
    cps = [f"CP{i:03d}" for i in range(40)]
    central = central_factory(*cps, args=("--write-buffer-limit", "65536"))
    request = encode_frame(make(t.AVAILABLE_CPS_REQUEST, driver_id="SLOW",
                                timestamp=1700000000))
    slow = socket.create_connection((central.host, central.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(encode_frame(make_driver_auth_request("SLOW", central.add_driver("SLOW"))))
    fast = central.driver("D1")
    dropped = False
    answered = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not dropped:
        try:
            slow.sendall(request * 50)  # never reads the answers
        except OSError:
            dropped = True
            break
        _still_usable(fast)
        answered += 1
        dropped = "slow client" in central.log()
    assert dropped, "Central must drop a client that never reads"
    assert answered > 0
    _still_usable(fast)
    slow.close()
    fast.close()


def test_connection_limit(central_factory):
    central = central_factory("CP1", args=("--max-connections", "2"))
    first, second = central.driver("D1"), central.driver("D1")
    _still_usable(first)
    _still_usable(second)
    third = central.client()
    err = third.recv_type(t.ERROR_RESPONSE)
    assert "too many connections" in err["error"]
    assert third.wait_closed(5)
    first.close()
    wait_until(lambda: _accepts(central), what="a free slot again")
    second.close()


def _accepts(central) -> bool:
    client = central.client()
    try:
        client.request(make_driver_auth_request("D1", central.add_driver("D1")))
        _still_usable(client)
        return True
    except TimeoutError:
        return False
    finally:
        client.close()
