"""The Monitor link, on both runtimes: malformed frames and messages get an
error_response and the link stays up; a newer connection replaces the older;
the same frames over a serial line (a real pty)."""
from __future__ import annotations

import os

import pytest

import evwire
from evengine.probe import PtyMonitor
from evharness.engine import RUNTIMES, start_engine, wait_ready
from evharness.procs import wait_until
from evharness.sim import start_sim
from evwire.framing import cobs_encode

TICK = "0.3"


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


def _error(probe):
    return probe.wait_type("error_response")


def test_malformed_frames_and_messages_get_error_response(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path)
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK)
    probe = engine.probe()

    frame = bytearray(evwire.encode_frame(evwire.make("health_check_request", id="CP1")))
    frame[5] ^= 0xFF  # a bit-flipped byte of the "id" key: CRC mismatch
    probe.send_raw(bytes(frame))
    assert "malformed frame" in _error(probe)["error"]

    probe.send_raw(b"\x00" + bytes(range(1, 40)) + b"\x00")  # line noise
    assert "malformed frame" in _error(probe)["error"]

    payload = evwire.dumps([1, 2, 3])  # valid CBOR, not a map
    crc = evwire.crc16_ccitt_false(payload)
    probe.send_raw(b"\x00" + cobs_encode(payload + bytes((crc >> 8, crc & 0xFF))) + b"\x00")
    assert "not a CBOR map" in _error(probe)["error"]

    bad = probe.send(evwire.make("start_charging_command", cp_id="CP1", session_id="S1",
                                 price_per_kwh=0.3, max_charging_rate_kw=11.0))
    reply = _error(probe)
    assert reply["message_id"] == bad["message_id"] and "driver_id" in reply["error"]

    probe.send(evwire.make("make_coffee", cp_id="CP1"))
    assert "make_coffee" in _error(probe)["error"]

    probe.send(evwire.make("charge_request", cp_id="CP1", driver_id="D1", timestamp=1700000000))
    assert "charge_request" in _error(probe)["error"]

    typed = probe.send(evwire.make("health_check_request", id=42))
    reply = _error(probe)
    assert reply["message_id"] == typed["message_id"] and "'id'" in reply["error"]

    health = probe.health()  # the same connection still works
    assert health["engine_status"] == "OK"
    assert "dropped 1 malformed frame(s)" in engine.log()
    assert not probe.closed_by_peer


def test_a_new_monitor_connection_replaces_the_old(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--monitor-grace", "1")
    first = engine.probe()
    assert first.start("S1")["status"] == "success"
    second = engine.probe()
    assert second.health()["is_charging"] is True
    # Waited for, not given 0.5 s: a loaded host may take longer to close it.
    wait_until(lambda: first.collect(0.1) is not None and first.closed_by_peer, timeout=10,
               interval=0, what="the Engine closing the replaced connection")
    assert "replaces the one from" in engine.log()
    # Past the grace (1 s) on the Engine's own clock, not a sleep that races it: samples
    # come one per tick (0.3 s, never closer) and only while the Engine holds a Monitor,
    # so six fresh ones span 1.5 s during which the session went on with the new one.
    second.collect(0)  # only samples sent after the old link was gone count
    for _ in range(6):
        assert second.wait_type("charging_data")["session_id"] == "S1"
    assert not [m for m in second.inbox if m.get("type") == "charge_completion"]
    assert second.health()["session_id"] == "S1"


def test_serial_monitor_link_over_a_pty(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    monitor = PtyMonitor()
    try:
        proc = procs.evcharge("engine", [
            "engine", "--cp-id", "CP1", "--serial-link", monitor.device, "--meter",
            str(sim.link), "--state-dir", str(tmp_path / "state"), "--runtime", runtime,
            "--tick", TICK, "--menu", "off"])
        wait_ready(proc, mark="ready serial link on")
        health = monitor.request(evwire.make("health_check_request", id="CP1"))
        assert health["type"] == "health_check_response" and health["engine_status"] == "OK"
        started = monitor.request(evwire.make(
            "start_charging_command", cp_id="CP1", session_id="S1", driver_id="D1",
            price_per_kwh=0.3, max_charging_rate_kw=11.0))
        assert started["status"] == "success"
        data = monitor.wait_for(lambda m: m.get("type") == "charging_data")
        assert data["session_id"] == "S1"
        os.write(monitor.master, b"\x00\x05garbage\x00")
        error = monitor.wait_for(lambda m: m.get("type") == "error_response")
        assert "malformed frame" in error["error"]
        stopped = monitor.request(evwire.make("stop_charging_command", cp_id="CP1",
                                              session_id="S1"))
        assert stopped["status"] == "success"
        done = monitor.wait_for(lambda m: m.get("type") == "charge_completion")
        assert done["meter_stop_kwh"] == pytest.approx(sim.status()["meter_kwh"], abs=0.001)
        monitor.send({"type": "charge_completion_ack", "message_id": done["message_id"],
                      "session_id": "S1"})
        monitor.request(evwire.make("health_check_request", id="CP1"))
        assert "completion of session S1 acknowledged" in proc.log()
    finally:
        monitor.close()
