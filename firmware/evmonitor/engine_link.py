"""The Monitor's link to its Engine: connect, health-check, reconnect with back-off.

A health_check_request goes out every `health_interval`; a request not
answered within `engine_timeout`, a lost connection or a failed connect
makes the CP FAULTED (engine_unreachable). After MAX_MISSED unanswered checks
in a row the connection is presumed dead (half-open TCP, wedged serial) and
re-opened. The back-off cap is short so that recovery is noticed quickly.
"""
from __future__ import annotations

import asyncio
import time

from evmonitor import boundary
from evmonitor.backoff import Backoff
from evmonitor.config import MonitorConfig
from evmonitor.engine_handlers import ACCEPTS, EngineHandlers
from evmonitor.framed import FramedLink, describe_error, open_tcp
from evmonitor.serial_port import open_serial
from evmonitor.station import Station
from evwire import make_timestamped
from evwire import types as t
from evwire.dispatch import Dispatcher
from evwire.trace import log

MAX_MISSED = 3
CONNECT_TIMEOUT_S = 2.0


class EngineLink:
    def __init__(self, cfg: MonitorConfig, station: Station):
        self.cfg = cfg
        self.station = station
        self.where = cfg.engine_serial or str(cfg.engine_endpoint)
        self.link: FramedLink | None = None
        self.dispatcher = Dispatcher(EngineHandlers(station, self), ACCEPTS)
        self.backoff = Backoff(cfg.backoff_base, cfg.engine_backoff_cap, cfg.backoff_reset)
        self.last_rtt: float | None = None
        self.state = "connecting"
        self._outstanding: dict[str, float] = {}  # health check id -> sent at (monotonic)
        self._missed = 0

    @property
    def connected(self) -> bool:
        return self.link is not None and not self.link.closed

    def send(self, msg: dict) -> bool:
        return self.link is not None and self.link.send(msg)

    async def _open(self) -> FramedLink:
        if self.cfg.engine_serial:
            return await open_serial("engine", self.cfg.engine_serial, self.cfg.engine_baud)
        return await open_tcp("engine", self.cfg.engine_endpoint, CONNECT_TIMEOUT_S)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                link = await self._open()
            except (OSError, TimeoutError) as exc:
                failures += 1
                delay = self.backoff.next_delay()
                self.state = f"unreachable, retrying in {delay:.1f} s"
                text = f"cannot connect to the Engine at {self.where} ({describe_error(exc)})"
                if failures == 1:
                    log("warning", f"{text}, retrying in {delay:.1f} s")
                self.station.engine_unreachable(text)
                await asyncio.sleep(delay)
                continue
            failures = 0
            log("info", f"connected to the Engine at {self.where}")
            await self._serve(link)
            self.link = None
            self.backoff.link_down()
            self.station.engine_unreachable(f"lost the link to the Engine at {self.where}")
            delay = self.backoff.next_delay()
            self.state = f"lost, reconnecting in {delay:.1f} s"
            await asyncio.sleep(delay)

    async def _serve(self, link: FramedLink) -> None:
        self.link = link
        self.state = "connected"
        self.backoff.link_up()
        self._outstanding.clear()
        self._missed = 0
        reader = asyncio.create_task(self._read(link))
        checker = asyncio.create_task(self._health_checks(link))
        try:
            await asyncio.wait({reader, checker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, checker):
                task.cancel()
            await asyncio.gather(reader, checker, return_exceptions=True)
            link.close()
        log("warning", f"link to the Engine at {self.where} closed")

    async def _read(self, link: FramedLink) -> None:
        async for msg in link.messages():
            boundary.handle(self.dispatcher, msg, link)

    async def _health_checks(self, link: FramedLink) -> None:
        tick = max(0.02, min(0.2, self.cfg.health_interval / 5, self.cfg.engine_timeout / 5))
        next_check = time.monotonic()
        while not link.closed:
            now = time.monotonic()
            overdue = [mid for mid, sent in self._outstanding.items()
                       if now - sent > self.cfg.engine_timeout]
            for mid in overdue:
                del self._outstanding[mid]
                self._missed += 1
                self.station.engine_unreachable(
                    f"no answer to a health check within {self.cfg.engine_timeout:g} s")
            if self._missed >= MAX_MISSED:
                log("warning", f"{self._missed} health checks unanswered: re-opening the link")
                return
            if now >= next_check:
                request = make_timestamped(t.HEALTH_CHECK_REQUEST, id=self.cfg.cp_id,
                                           cp_id=self.cfg.cp_id)
                if link.send(request):
                    self._outstanding[request["message_id"]] = now
                next_check = now + self.cfg.health_interval
            await asyncio.sleep(tick)

    def health_answered(self, message_id: str) -> None:
        """Any answer proves the Engine alive; older unanswered checks are forgiven."""
        sent = self._outstanding.pop(message_id, None)
        if sent is not None:
            self.last_rtt = time.monotonic() - sent
            self._outstanding = {m: s for m, s in self._outstanding.items() if s > sent}
        self._missed = 0
