"""The real Monitor and the real Engine (virtual hardware) with a link key: the
handshake passes and commands work end to end; a stranger on the Engine's port
cannot displace the Monitor; a Monitor with the wrong key or none is refused
and says so."""
from __future__ import annotations

import os
import select
import threading
import tty

from evharness.engine import start_engine, wait_ready, write_link_key
from evharness.procs import wait_until
from evharness.sim import start_sim
from evwire import make
from evwire import types as t

KEY = "5f" * 32


def keyed_engine(procs, tmp_path):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, "micropython", "--tick", "0.3",
                          "--link-auth-timeout", "1", link_key=KEY)
    return sim, engine


def key_file(tmp_path, key: str = KEY) -> str:
    path = tmp_path / "engine-key"
    write_link_key(path, key)
    return str(path)


def answer_to(central, request: dict, timeout: float = 10.0) -> dict:
    return central.wait_for(t.COMMAND_RESPONSE, timeout=timeout,
                            where=lambda m: m["message_id"] == request["message_id"])


def test_the_monitor_with_the_key_works_and_a_stranger_cannot_displace_it(
        procs, tmp_path, fake_central, start_monitor):
    sim, engine = keyed_engine(procs, tmp_path)
    monitor = start_monitor(f"127.0.0.1:{engine.port}", fake_central,
                            "--engine-key-file", key_file(tmp_path))
    fake_central.wait_for(t.HEARTBEAT_REQUEST, where=lambda m: m["status"] == t.CP_AVAILABLE)
    assert "Monitor 127.0.0.1" in engine.log() and "authenticated" in engine.log()
    start = fake_central.command(t.START_CHARGING_COMMAND, session_id="S1", driver_id="D1",
                                 price_per_kwh=0.3, max_charging_rate_kw=11.0)
    assert answer_to(fake_central, start)["status"] == t.SUCCESS
    wait_until(lambda: sim.status()["relay_closed"], timeout=5, what="the relay closing")

    for _ in range(3):  # strangers, one of them silent until the Engine closes it
        intruder = engine.probe(link_key=None, heartbeat=None)
        intruder.send(make(t.STOP_CHARGING_COMMAND, cp_id="CP1", session_id="S1"))
        assert intruder.wait_type(t.ERROR_RESPONSE)["code"] == "unauthenticated"
    silent = engine.probe(link_key=None, heartbeat=None)
    wait_until(lambda: silent.collect(0.1) == [] and silent.closed_by_peer, timeout=5,
               what="the silent stranger being closed")
    mark = fake_central.mark()
    fake_central.wait_for(t.HEARTBEAT_REQUEST, since=mark, timeout=5,
                          where=lambda m: m["status"] == t.CP_CHARGING)
    assert sim.status()["relay_closed"] is True
    assert "lost the link" not in monitor.log() and "replaces" not in engine.log()
    stop = fake_central.command(t.STOP_CHARGING_COMMAND, session_id="S1")
    assert answer_to(fake_central, stop)["status"] == t.SUCCESS
    assert sim.status()["relay_closed"] is False
    assert KEY not in monitor.log() and KEY not in engine.log()


def test_a_monitor_with_the_wrong_key_or_none_is_refused(procs, tmp_path, fake_central,
                                                         start_monitor):
    _sim, engine = keyed_engine(procs, tmp_path)
    wrong = start_monitor(f"127.0.0.1:{engine.port}", fake_central,
                          "--engine-key-file", key_file(tmp_path, "77" * 32))
    wait_until(lambda: "failed the link handshake" in wrong.log(), timeout=10,
               what="the Monitor noticing the wrong key")
    assert "does not hold this link key" in wrong.log()
    fake_central.wait_for(t.HEARTBEAT_REQUEST, where=lambda m: m["status"] == t.CP_FAULTED)
    assert wrong.log().count("failed the link handshake") == 1  # said once, not per retry
    wrong.terminate()
    keyless = start_monitor(f"127.0.0.1:{engine.port}", fake_central)
    wait_until(lambda: "demands a link key" in keyless.log(), timeout=10,
               what="the keyless Monitor being told")
    assert "unauthenticated" in engine.log() or "refused" in engine.log()


def test_a_key_file_others_can_read_is_refused(tmp_path, fake_central, start_monitor):
    path = key_file(tmp_path)
    os.chmod(path, 0o644)
    proc = start_monitor("127.0.0.1:1", fake_central, "--engine-key-file", path,
                         wait_ready=False)
    wait_until(lambda: not proc.alive(), timeout=10, what="the Monitor refusing to start")
    assert "engine_key_file" in proc.log() and "chmod 600" in proc.log()
    assert KEY not in proc.log()


class PtyBridge:
    """Two pseudo-terminals joined back to back (a null-modem cable): the Engine
    opens one's slave, the Monitor the other's; a thread copies between the masters."""

    def __init__(self):
        self.masters, self.slaves = [], []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)
            self.masters.append(master)
            self.slaves.append(slave)
        self.devices = [os.ttyname(slave) for slave in self.slaves]
        self.stopped = threading.Event()
        threading.Thread(target=self._copy, daemon=True).start()

    def _copy(self):
        while not self.stopped.is_set():
            ready, _, _ = select.select(self.masters, [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                    os.write(self.masters[1 - self.masters.index(fd)], data)
                except OSError:
                    return

    def close(self):
        self.stopped.set()
        for fd in self.masters + self.slaves:
            os.close(fd)


def test_a_serial_link_with_a_key_works_end_to_end(procs, tmp_path, fake_central,
                                                   outbox_path):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    bridge = PtyBridge()
    try:
        engine = procs.evcharge("engine", [
            "engine", "--cp-id", "CP1", "--serial-link", bridge.devices[0], "--meter",
            str(sim.link), "--state-dir", str(tmp_path / "state"), "--runtime", "micropython",
            "--tick", "0.3", "--menu", "off", "--link-key-file", key_file(tmp_path)])
        wait_ready(engine, mark="ready serial link on")
        monitor = procs.evcharge("monitor", [
            "monitor", "--cp-id", "CP1", "--engine-serial", bridge.devices[1],
            "--engine-key-file", key_file(tmp_path), "--central", fake_central.address,
            "--outbox", str(outbox_path), "--health-interval", "0.2", "--engine-timeout", "0.5",
            "--heartbeat-interval", "0.2", "--backoff-base", "0.1", "--engine-backoff-cap",
            "0.3"], env={"EVCHARGE_SECRET": "s3cret"})
        fake_central.wait_for(t.HEARTBEAT_REQUEST, timeout=15,
                              where=lambda m: m["status"] == t.CP_AVAILABLE)
        assert "Monitor authenticated on" in engine.log()
        start = fake_central.command(t.START_CHARGING_COMMAND, session_id="S1", driver_id="D1",
                                     price_per_kwh=0.3, max_charging_rate_kw=11.0)
        assert answer_to(fake_central, start)["status"] == t.SUCCESS
        wait_until(lambda: sim.status()["relay_closed"], timeout=5, what="the relay closing")
        stop = fake_central.command(t.STOP_CHARGING_COMMAND, session_id="S1")
        assert answer_to(fake_central, stop)["status"] == t.SUCCESS
        assert "failed the link handshake" not in monitor.log()
    finally:
        bridge.close()
