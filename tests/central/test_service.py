"""Central as a systemd service: sd_notify (READY, WATCHDOG, STOPPING) and a graceful
SIGTERM (exit 0 within 5 s, nothing in flight lost), with a real process."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import uuid

import pytest
from central_testkit import charge_request, charging_data, completion

from evharness.procs import free_port, wait_until
from evhost.sdnotify import Notifier
from evwire import make
from evwire import types as t
from evwire.compat import unix_time

STOP_WITHIN_S = 5.0


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket (abstract namespace here)."""

    def __init__(self) -> None:
        self.address = "@evcharge-central-test-" + uuid.uuid4().hex
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.address[1:])
        self.sock.settimeout(0.1)
        self.datagrams: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.datagrams.append(self.sock.recv(4096).decode())
            except (TimeoutError, BlockingIOError):
                return self.datagrams

    def index(self, line: str) -> int:
        """Position of the first datagram holding line, or -1."""
        for i, datagram in enumerate(self.drain()):
            if line in datagram.splitlines():
                return i
        return -1

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket():
    sock = NotifySocket()
    yield sock
    sock.close()


def sigterm(proc) -> tuple[int, float]:
    """SIGTERM to the process (not its group: systemd's KillMode=mixed signals the main
    process first); its exit status and how long it took."""
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    rc = proc.popen.wait(STOP_WITHIN_S + 5)
    return rc, time.monotonic() - started


def assert_clean_stop(proc, rc: int, took: float) -> None:
    log = proc.log()
    assert rc == 0, log
    assert took < STOP_WITHIN_S, f"stopped after {took:.1f} s"
    assert "Traceback" not in log and "Exception in callback" not in log, log
    assert "SIGTERM: shutting down" in log
    assert "stopped" in log.strip().splitlines()[-1]


def test_sigterm_with_links_and_kafka_in_flight_exits_0_and_loses_nothing(
        central_factory, tap):
    central = central_factory("CP1")
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    stranger = central.client()  # connected, never authenticated
    reply = driver.request(charge_request("CP1", "D1"))
    session_id = reply["session_id"]
    mon.answer(mon.recv_type(t.START_CHARGING_COMMAND))
    mon.status, mon.session_id = t.CP_CHARGING, session_id
    tap.cp_event(charging_data("CP1", session_id, "D1", 3.0))
    tap.wait_for(lambda k, m: m["type"] == t.CHARGING_DATA and m["session_id"] == session_id)
    # The completion is in Kafka when SIGTERM comes: whether Central finishes it or
    # leaves it uncommitted, it must be billed and ticketed exactly once in the end.
    tap.cp_event(completion("CP1", session_id, "D1", 8.0))

    rc, took = sigterm(central.proc)
    assert_clean_stop(central.proc, rc, took)
    for client in (mon, driver, stranger):
        assert client.wait_closed(1), "Central left a link open"
        client.close()

    central.start()
    wait_until(lambda: central.session_row(session_id).get("ticket_sent") == 1, timeout=15,
               what="finalised and ticket sent")
    row = central.session_row(session_id)
    assert row["finalised"] == 1 and row["energy_kwh"] == 8.0
    marker = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D1",
                                     timestamp=unix_time()))
    tap.wait_for(lambda k, m: m.get("message_id") == marker["message_id"], timeout=15)
    tickets = tap.matching(lambda k, m: m["type"] == t.CHARGE_COMPLETION
                           and m["session_id"] == session_id)
    assert len(tickets) == 1


def test_sd_notify_ready_watchdog_then_stopping(central_factory, notify_socket, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # WatchdogSec=0.4: a ping every 0.2 s
    central = central_factory("CP1")
    wait_until(lambda: notify_socket.index("READY=1") >= 0, timeout=10, what="READY=1")
    ready = notify_socket.datagrams[notify_socket.index("READY=1")]
    assert f"STATUS=listening on 127.0.0.1:{central.port}" in ready.splitlines()
    wait_until(lambda: notify_socket.drain().count("WATCHDOG=1") >= 3, timeout=10,
               what="watchdog pings")
    mon = central.monitor("CP1")
    rc, took = sigterm(central.proc)
    assert_clean_stop(central.proc, rc, took)
    mon.close()
    stopping = notify_socket.index("STOPPING=1")
    assert stopping > notify_socket.index("READY=1")


def test_no_watchdog_pings_unless_systemd_asks(central_factory, notify_socket, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    central = central_factory("CP1")
    wait_until(lambda: notify_socket.index("READY=1") >= 0, timeout=10, what="READY=1")
    time.sleep(0.5)
    rc, took = sigterm(central.proc)
    assert_clean_stop(central.proc, rc, took)
    assert "WATCHDOG=1" not in notify_socket.drain()
    assert notify_socket.index("STOPPING=1") > 0


def test_sigterm_while_waiting_for_an_absent_broker(central_factory):
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: Central waits --kafka-timeout
    central = central_factory("CP1", start=False)
    central.kafka = dead
    central.extra += ["--kafka-timeout", "30"]
    central.proc = central.procs.evcharge("central", [
        "central", "--listen", f"{central.host}:{central.port}", "--db", central.db_path,
        "--kafka", dead, "--kafka-timeout", "30"])
    wait_until(lambda: "not usable yet" in central.log(), timeout=20, what="retrying Kafka")
    rc, took = sigterm(central.proc)
    assert_clean_stop(central.proc, rc, took)


def test_the_watchdog_task_ends_at_once_without_a_watchdog():
    notifier = Notifier({})
    asyncio.run(asyncio.wait_for(notifier.ping_watchdog(), 1.0))  # returns, no ping loop
