"""The Monitor watching its Engine: faults, recovery, reconnects, serial (fake Engine)."""
from __future__ import annotations

import os
import threading
import time

import evwire
from evharness.procs import free_port, wait_until
from evwire import make
from evwire import types as t

FAULT_DEADLINE_S = 3.0  # the issue's bound; the tests' timers make ~1 s the expected time


def test_health_checks_are_sent_every_interval_with_the_cp_id(fake_engine, fake_central,
                                                              start_monitor):
    start_monitor(fake_engine, fake_central)
    wait_until(lambda: len(fake_engine.of_type(t.HEALTH_CHECK_REQUEST)) >= 5, timeout=10)
    checks = fake_engine.of_type(t.HEALTH_CHECK_REQUEST)
    assert all(c["id"] == "CP1" for c in checks)
    assert len({c["message_id"] for c in checks}) == len(checks)


def test_silent_engine_faults_within_3_s_then_recovers(fake_engine, fake_central,
                                                       start_monitor):
    start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    mark = fake_central.mark()
    silenced_at = time.monotonic()
    fake_engine.health = "silent"
    fault = fake_central.wait_for(t.FAULT_NOTIFICATION, since=mark, timeout=10)
    assert time.monotonic() - silenced_at < FAULT_DEADLINE_S
    assert fault["fault_type"] == "engine_unreachable"
    assert fault["cp_id"] == "CP1"
    fake_central.wait_for(t.STATUS_UPDATE, since=mark, where=lambda m: m["status"] == "FAULTED")
    fake_central.wait_for(t.HEARTBEAT_REQUEST, since=mark,
                          where=lambda m: m["status"] == t.CP_FAULTED)

    mark = fake_central.mark()
    fake_engine.health = "ok"
    fake_central.wait_for(t.RECOVERY_NOTIFICATION, since=mark, timeout=10)
    fake_central.wait_for(t.STATUS_UPDATE, since=mark,
                          where=lambda m: m["status"] == t.CP_AVAILABLE)


def test_ko_engine_faults_with_its_own_fault_type(fake_engine, fake_central, start_monitor):
    start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    fake_engine.fault_type = "relay_mismatch"
    fake_engine.health = "ko"
    fault = fake_central.wait_for(t.FAULT_NOTIFICATION, timeout=10)
    assert fault["fault_type"] == "relay_mismatch"
    fake_engine.health = "ok"
    fake_central.wait_for(t.RECOVERY_NOTIFICATION, timeout=10)


def test_fault_while_charging_names_the_session(fake_engine, fake_central, start_monitor):
    fake_engine.session_id = "S-running"  # the Engine is mid-session when the Monitor starts
    start_monitor(fake_engine, fake_central)
    beat = fake_central.wait_for(t.HEARTBEAT_REQUEST, where=lambda m: m.get("session_id"))
    assert beat["status"] == t.CP_CHARGING and beat["session_id"] == "S-running"
    fake_engine.drop_connection()
    fake_engine.close()  # the Engine process is gone: connection refused from now on
    fault = fake_central.wait_for(t.FAULT_NOTIFICATION, timeout=FAULT_DEADLINE_S)
    assert fault["fault_type"] == "engine_unreachable"
    assert fault["session_id"] == "S-running"


def test_engine_down_at_start_is_a_fault_and_its_arrival_a_recovery(fake_central,
                                                                    start_monitor, peers):
    port = free_port()
    proc = start_monitor(f"127.0.0.1:{port}", fake_central)
    update = fake_central.wait_for(t.STATUS_UPDATE)
    assert update["status"] == t.CP_FAULTED
    assert "cannot connect to the Engine" in proc.log()
    peers("engine", port)
    fake_central.wait_for(t.RECOVERY_NOTIFICATION, timeout=10)
    fake_central.wait_for(t.STATUS_UPDATE, where=lambda m: m["status"] == t.CP_AVAILABLE)


def test_engine_restart_is_reconnected(fake_engine, fake_central, start_monitor):
    start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    fake_engine.drop_connection()
    fake_engine.wait_connected(count=2, timeout=10)
    fake_central.wait_for(t.RECOVERY_NOTIFICATION, timeout=10)


def test_garbage_and_invalid_messages_from_the_engine_are_answered_not_fatal(
        fake_engine, fake_central, start_monitor):
    proc = start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    mark = fake_engine.mark()
    fake_engine.send_raw(b"\x00\x05garbage\xff\xfe\x00")
    bad = make(t.CHARGING_DATA, cp_id="CP1", session_id="S1")  # missing fields
    fake_engine.send(bad)
    error = fake_engine.wait_for(t.ERROR_RESPONSE, since=mark)
    assert error["message_id"] == bad["message_id"]
    assert "charging_data: missing field" in error["error"]
    fake_engine.send(make(t.HEARTBEAT_REQUEST, cp_id="CP1", status="AVAILABLE",
                          timestamp=1700000000))
    error = fake_engine.wait_for(t.ERROR_RESPONSE, since=mark,
                                 where=lambda m: m["request_type"] == t.HEARTBEAT_REQUEST)
    assert "unexpected message type" in error["error"]
    # The link stays up and healthy: no fault, health checks keep being answered.
    n = len(fake_engine.of_type(t.HEALTH_CHECK_REQUEST))
    wait_until(lambda: len(fake_engine.of_type(t.HEALTH_CHECK_REQUEST)) > n + 2, timeout=10)
    assert not fake_central.of_type(t.FAULT_NOTIFICATION)
    assert "dropped a bad frame" in proc.log()
    assert "Traceback" not in proc.log()


class PtyEngine:
    """A fake Engine on the master side of a pseudo-terminal (the Monitor opens the slave)."""

    def __init__(self):
        self.master, slave = os.openpty()
        self.device = os.ttyname(slave)
        self._slave = slave  # kept open so the pty does not hang up before the Monitor opens it
        self.received: list[dict] = []
        self.answer = True
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        decoder = evwire.FrameDecoder()
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for msg in decoder.feed(data):
                self.received.append(msg)
                if msg["type"] == t.HEALTH_CHECK_REQUEST and self.answer:
                    os.write(self.master, evwire.encode_frame(make(
                        t.HEALTH_CHECK_RESPONSE, msg["message_id"], status=t.SUCCESS,
                        engine_status=t.ENGINE_OK, is_charging=False)))

    def close(self):
        os.close(self.master)
        os.close(self._slave)


def test_engine_over_a_serial_line(fake_central, procs, outbox_path):
    engine = PtyEngine()
    try:
        proc = procs.evcharge("monitor", [
            "monitor", "--cp-id", "CP1", "--engine-serial", engine.device,
            "--central", fake_central.address, "--outbox", str(outbox_path),
            "--health-interval", "0.2", "--engine-timeout", "0.5", "--heartbeat-interval", "0.2",
            "--backoff-base", "0.1", "--engine-backoff-cap", "0.3"],
            env={"EVCHARGE_SECRET": "s3cret"})
        update = fake_central.wait_for(t.STATUS_UPDATE, timeout=15)
        assert update["status"] == t.CP_AVAILABLE, proc.log()
        assert any(m["type"] == t.HEALTH_CHECK_REQUEST for m in engine.received)
        engine.answer = False
        fault = fake_central.wait_for(t.FAULT_NOTIFICATION, timeout=10)
        assert fault["fault_type"] == "engine_unreachable"
        engine.answer = True
        fake_central.wait_for(t.RECOVERY_NOTIFICATION, timeout=10)
    finally:
        engine.close()
