"""sd_notify on a test AF_UNIX datagram socket: path and abstract-namespace addresses."""
from __future__ import annotations

import os
import socket
import uuid

import pytest

from evharness.procs import wait_until
from evhost.sdnotify import Notifier
from evwire import types as t


class NotifySocket:
    def __init__(self, address: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address.replace("@", "\0", 1) if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.address = address
        self.datagrams: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.datagrams.append(self.sock.recv(4096).decode())
            except (TimeoutError, BlockingIOError):
                return self.datagrams

    def seen(self, line: str) -> bool:
        return any(line in d.splitlines() for d in self.drain())


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request, tmp_path):
    address = (str(tmp_path / "notify.sock") if request.param == "path"
               else "@evcharge-test-" + uuid.uuid4().hex)
    sock = NotifySocket(address)
    yield sock
    sock.sock.close()


def test_notifier_sends_each_state(notify_socket):
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.address})
    assert notifier.ready("starting")
    assert notifier.watchdog()
    assert notifier.status("CP1 AVAILABLE")
    assert notifier.stopping()
    got = notify_socket.drain()
    assert got == ["READY=1\nSTATUS=starting", "WATCHDOG=1", "STATUS=CP1 AVAILABLE",
                   "STOPPING=1"]


def test_without_systemd_it_is_a_no_op():
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.watchdog()
    assert notifier.watchdog_interval is None


def test_watchdog_interval_is_half_of_watchdog_usec_and_only_for_this_pid():
    assert Notifier({"WATCHDOG_USEC": "10000000"}).watchdog_interval == 5.0
    assert Notifier({"WATCHDOG_USEC": "10000000",
                     "WATCHDOG_PID": str(os.getpid())}).watchdog_interval == 5.0
    assert Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}).watchdog_interval is None


def test_a_dead_notify_socket_never_breaks_the_caller(tmp_path):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_the_daemon_reports_ready_watchdog_status_and_stopping(notify_socket, fake_engine,
                                                               fake_central, start_monitor):
    proc = start_monitor(fake_engine, fake_central, env={
        "NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "400000"})
    wait_until(lambda: notify_socket.seen("READY=1"), timeout=10, what="READY=1")
    wait_until(lambda: sum(d == "WATCHDOG=1" for d in notify_socket.drain()) >= 3, timeout=10,
               what="watchdog pings")
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    wait_until(lambda: any("STATUS=CP1 AVAILABLE" in d and "registered" in d
                           for d in notify_socket.drain()), timeout=10, what="STATUS line")
    assert proc.terminate() == 0
    assert notify_socket.seen("STOPPING=1")
    assert "stopped;" in proc.log()
