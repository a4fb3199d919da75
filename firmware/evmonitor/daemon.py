"""The Monitor daemon: start the links in the seed's order, supervise, stop cleanly.

Start: outbox, Engine link (waits a short grace for the first health answer,
so Central is first told an accurate status), Kafka forwarder, Central link;
then READY=1 and the "ready" log line. SIGHUP: re-read the secret file (a
rotated secret, see central_link.py). SIGTERM/SIGINT: STOPPING=1, stop
accepting (close the Engine and Central links), flush the producer for a few
seconds, keep whatever is undelivered in the outbox for the next start.
"""
from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Coroutine
from typing import Any

from evhost.sdnotify import Notifier
from evmonitor.central_link import CentralLink
from evmonitor.config import MonitorConfig
from evmonitor.engine_link import EngineLink
from evmonitor.kafka_out import KafkaForwarder
from evmonitor.outbox import Outbox, OutboxError
from evmonitor.panel import run_panel
from evmonitor.station import Station
from evmonitor.status import ENGINE_UNKNOWN
from evwire.trace import announce, log

HOUSEKEEPING_S = 0.2


class MonitorDaemon:
    def __init__(self, cfg: MonitorConfig, notifier: Notifier | None = None):
        self.cfg = cfg
        self.notifier = notifier or Notifier()
        self.outbox: Outbox | None = None
        self.forwarder: KafkaForwarder | None = None
        self.station: Station | None = None
        self.engine_link: EngineLink | None = None
        self.central_link: CentralLink | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._last_status_text = ""
        self.failed = False

    def request_stop(self, why: str = "") -> None:
        if not self._stop.is_set():
            # The event first: a log line that cannot be written (stderr a closed
            # pipe) must never keep SIGTERM from stopping the Monitor.
            self._stop.set()
            log("info", f"stopping{': ' + why if why else ''}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_ended)
        self._tasks.append(task)
        return task

    def _task_ended(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # A task of this daemon must never end on its own: stop, systemd restarts us.
            log("error", f"{task.get_name()} failed: {type(exc).__name__}: {exc}")
            self.failed = True
            self.request_stop("internal failure")

    async def run(self) -> int:
        cfg = self.cfg
        try:
            self.outbox = Outbox(cfg.outbox, cfg.outbox_bound, cfg.thin_keep_every)
        except OutboxError as exc:
            log("error", str(exc))
            return 1
        if self.outbox.depth:
            log("info", f"outbox {cfg.outbox} holds {self.outbox.depth} records from before: "
                        f"replaying them in order")
        if cfg.kafka:
            self.forwarder = KafkaForwarder(self.outbox, cfg.kafka, cfg.cp_id, cfg.kafka_in_flight,
                                            secret=cfg.secret)
        else:
            log("warning", "no Kafka broker configured: telemetry is kept in the outbox")
        self.station = Station(cfg, self.outbox, self.forwarder)
        self.engine_link = EngineLink(cfg, self.station)
        self.central_link = CentralLink(cfg, self.station)
        self.station.engine = self.engine_link
        self.station.central = self.central_link
        self.central_link.on_new_secret = self._new_secret

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, signal.Signals(sig).name)
        loop.add_signal_handler(signal.SIGHUP, self.central_link.reload_secret)
        try:
            await self._start()
            await self._stop.wait()
        finally:
            await self._shutdown()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        return 1 if self.failed else 0

    def _new_secret(self) -> None:
        # Records still in the outbox are signed at produce time: with the new secret
        # from now on. Those already produced keep the old one, which Central accepts
        # until the rotation's grace ends.
        if self.forwarder is not None:
            self.forwarder.secret = self.cfg.secret

    async def _start(self) -> None:
        cfg = self.cfg
        self._spawn(self.engine_link.run(), "engine link")
        if self.forwarder is not None:
            self._spawn(self.forwarder.run(), "kafka forwarder")
        self._spawn(self._housekeeping(), "housekeeping")
        if self.notifier.watchdog_interval:
            self._spawn(self._watchdog(self.notifier.watchdog_interval), "watchdog")
        if cfg.panel:
            self._spawn(run_panel(self), "panel")
        # The seed's order: Engine first, then Central, told an accurate status.
        deadline = time.monotonic() + cfg.health_interval + cfg.engine_timeout + 0.5
        while self.station.cp.engine == ENGINE_UNKNOWN and time.monotonic() < deadline:
            if self._stop.is_set():
                return
            await asyncio.sleep(0.05)
        self.station.end_startup_grace()
        self._spawn(self.central_link.run(), "central link")
        self.notifier.ready(self._status_text())
        kafka = cfg.kafka or "none"
        announce(f"ready: {cfg.cp_id} engine {self.engine_link.where} central "  # any level
                 f"{self.central_link.where} kafka {kafka} outbox {cfg.outbox} "
                 f"({self.outbox.depth} waiting)")

    async def _housekeeping(self) -> None:
        while True:
            self.station.expire_commands()
            self.station.limits.tick()
            text = self._status_text()
            if text != self._last_status_text:
                self._last_status_text = text
                self.notifier.status(text)
            await asyncio.sleep(HOUSEKEEPING_S)

    async def _watchdog(self, interval: float) -> None:
        # Pinged from the event loop itself: a wedged loop stops the pings and systemd
        # restarts the service after WatchdogSec.
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    def _status_text(self) -> str:
        central = "registered" if self.central_link.registered else "not registered"
        engine = "engine connected" if self.engine_link.connected else "engine unreachable"
        return (f"{self.cfg.cp_id} {self.station.cp.status}; {engine}; Central {central}; "
                f"outbox {self.outbox.depth}")

    async def _shutdown(self) -> None:
        self.notifier.stopping()
        # Stop accepting: no new commands or telemetry (the Engine keeps an unacked
        # completion and sends it to the next Monitor), then flush what is queued.
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        kept = self.outbox.depth if self.outbox else 0
        if self.forwarder is not None:
            try:
                kept = await self.forwarder.flush(self.cfg.shutdown_flush)
            except Exception as exc:  # undelivered rows are safe in the outbox anyway
                log("warning", f"Kafka flush at shutdown failed: {exc}")
        if self.outbox is not None:
            self.outbox.close()
        self.notifier.close()
        log("info", f"stopped; {kept} records kept in the outbox for the next start")
