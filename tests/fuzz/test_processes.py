"""Real-process fuzz smokes: random byte frames and random valid-CBOR maps over
real TCP to a running `evcharge central` and `evcharge engine --sim`, after
which each still answers a legitimate peer and has logged no traceback."""
from __future__ import annotations

import random
import socket
import time

import gen
from central_testkit import ADMIN_TOKEN, CentralUnderTest, FakeMonitor, WireClient

from evharness.engine import EngineHandle, wait_ready, write_link_key
from evharness.procs import free_port, wait_until
from evwire import encode_frame, make
from evwire import types as t
from evwire.auth import make_auth_request

CONNECTIONS = 4
FRAMES_PER_CONNECTION = 400


def hostile_frames(rng: random.Random, count: int) -> list[bytes]:
    """Frames of random bytes, frames around random CBOR, valid-CBOR maps, noise."""
    out = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.4:
            try:
                out.append(encode_frame(gen.message(rng)))
            except ValueError:
                continue
        elif pick < 0.6:
            out.append(gen.raw_frame(gen.payload(rng, conversation=False)))
        elif pick < 0.8:
            out.append(gen.raw_frame(rng.randbytes(rng.randint(0, 200))))
        else:
            out.append(gen.stream(rng))
    return out


def test_central_survives_hostile_frames_then_serves(procs, tmp_path, kafka_bootstrap, kafka_ns):
    central = CentralUnderTest(procs, tmp_path, kafka_bootstrap).provision("CP1").start()
    rng = random.Random(11)
    answered = 0
    for _ in range(CONNECTIONS):
        client = WireClient(central.host, central.port)
        for frame in hostile_frames(rng, FRAMES_PER_CONNECTION):
            client.send_raw(frame)
        # A marker at the end: once answered, everything before it was handled.
        marker = make(t.RECOVERY_NOTIFICATION, cp_id="nobody")
        try:
            client.send(marker)
            client.recv(lambda m, mid=marker["message_id"]: m.get("message_id") == mid,
                        timeout=30)
        except (TimeoutError, OSError):
            pass  # Central may close a connection that misbehaves; it must live on
        answered += len(client.inbox)
        assert all(m.get("type") != "error_response" or m.get("code") != "internal_error"
                   for m in client.inbox), client.inbox
        client.close()
    assert answered > 0  # the hostile frames were read and refused, not ignored
    assert central.proc.alive(), central.log()
    # A legitimate Monitor still gets in (answers to this address may be slowed by
    # the failed authentications above: a generous timeout).
    monitor = FakeMonitor(central.host, central.port, "CP1", central.secrets["CP1"])
    auth = monitor.request(make_auth_request("CP1", central.secrets["CP1"]), timeout=30)
    assert auth["status"] == t.SUCCESS, auth
    assert monitor.register()["status"] == t.SUCCESS
    monitor.close()
    admin = WireClient(central.host, central.port)
    listed = admin.request(make(t.MANUAL_COMMAND, command="list_cps", token=ADMIN_TOKEN),
                           timeout=30)
    admin.close()
    assert listed["status"] == t.SUCCESS and [r["cp_id"] for r in listed["data"]] == ["CP1"]
    assert "Traceback" not in central.log()


def test_engine_survives_hostile_frames_then_serves(procs, tmp_path):
    port = free_port()
    state = tmp_path / "state"
    key = write_link_key(tmp_path / "engine.link-key")
    proc = procs.evcharge("engine", [
        "engine", "--cp-id", "CP1", "--listen", f"127.0.0.1:{port}", "--sim",
        "--state-dir", str(state), "--runtime", "micropython", "--menu", "off",
        "--tick", "0.3", "--link-key-file", str(tmp_path / "engine.link-key")])
    wait_ready(proc)
    rng = random.Random(12)
    for _ in range(CONNECTIONS):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            try:
                for frame in hostile_frames(rng, FRAMES_PER_CONNECTION // 2):
                    sock.sendall(frame)
            except OSError:
                pass  # the Engine may drop a stranger; it must live on
            time.sleep(0)  # hand over; the next connection replaces this one
    assert proc.alive(), proc.log()
    engine = EngineHandle(proc, port, state, key)
    wait_until(lambda: _healthy(engine), timeout=30, what="the Engine answers a Monitor")
    assert proc.alive() and "Traceback" not in proc.log(), proc.log()


def _healthy(engine: EngineHandle) -> bool:
    try:
        probe = engine.probe(timeout=5)
    except (OSError, AssertionError):
        return False
    try:
        return probe.health()["type"] == t.HEALTH_CHECK_RESPONSE
    except AssertionError:
        return False
    finally:
        probe.close()
