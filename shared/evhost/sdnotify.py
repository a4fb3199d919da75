"""sd_notify(3) with the standard library: READY=1, WATCHDOG=1, STOPPING=1, STATUS=...

Host code both systemd services use (the Monitor on the Pi, Central at the hub):
no libsystemd, nothing to install. systemd passes $NOTIFY_SOCKET: a filesystem
path, or an abstract-namespace name written with a leading '@'. Without it (not
under systemd) every call is a no-op. Errors never reach the caller:
supervision must not crash the service it supervises.
"""
from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping

from evwire.trace import log


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address
        self.watchdog_interval = self._watchdog_interval(env)
        self._sock: socket.socket | None = None
        self._warned = False

    @staticmethod
    def _watchdog_interval(env: Mapping[str, str]) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None if not asked."""
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) == 0:
            return None
        if pid and pid != str(os.getpid()):
            return None  # the watchdog is meant for another process
        return int(usec) / 2_000_000

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *assignments: str) -> bool:
        """Send 'KEY=value' lines in one datagram; True if it was sent."""
        if not self.address:
            return False
        data = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(data, self.address)
            return True
        except OSError as exc:
            if not self._warned:
                log("warning", f"sd_notify to {self.address!r} failed: {exc}")
                self._warned = True
            return False

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *((f"STATUS={status}",) if status else ()))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    async def ping_watchdog(self) -> None:
        """WATCHDOG=1 every watchdog_interval until cancelled (returns at once if systemd
        asked for no watchdog). Run it as a task of the service's own event loop: a
        wedged loop stops the pings, and systemd restarts the service after WatchdogSec."""
        interval = self.watchdog_interval
        if not interval:
            return
        while True:
            self.watchdog()
            await asyncio.sleep(interval)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
