"""Charge requests while the network is under full load, to time request -> command.

A few extra charge points stay idle while the others charge. During the
measured window a new driver asks for one of them every 1/rate seconds; the
time from sending charge_request to the start_charging_command arriving at
that charge point is recorded. The charge point charges for `hold_s`, ends
with a charge_completion through Kafka, and is free again once the driver
got its ticket (so Central no longer counts it busy).
"""
from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque

from evbench.cp_link import SimCp
from evbench.drivers import DriverDesk, DriverEvents
from evbench.fleet import Fleet
from evbench.metrics import Latencies

TICKET_WAIT_S = 30.0


class Probes:
    def __init__(self, fleet: Fleet, desk: DriverDesk, events: DriverEvents, cps: list[SimCp],
                 driver_prefix: str, rate_hz: float, hold_s: float):
        self.fleet, self.desk, self.events = fleet, desk, events
        self.idle = deque(cps)
        self.driver_prefix = driver_prefix
        self.interval = 1.0 / rate_hz
        self.hold_s = hold_s
        self.latencies = Latencies()
        self.sessions: list[str] = []
        self.requests = 0
        self.no_idle_cp = 0  # a request was due but every probe charge point was busy
        self.stuck = 0  # accepted, but no start command or no ticket came
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()

    async def run(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        end = due + seconds
        while due < end:
            if self.idle:
                task = asyncio.create_task(self._cycle(self.idle.popleft()))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self.no_idle_cp += 1
            due += self.interval
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def finish(self, timeout: float) -> None:
        """Let the cycles in progress end (their tickets arrive)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def _cycle(self, cp: SimCp) -> None:
        self.requests += 1
        driver_id = f"{self.driver_prefix}P{next(self._ids)}"
        session_id = await self.desk.charge(cp.cp_id, driver_id, self.latencies)
        if session_id is None:
            self.idle.append(cp)
            return
        self.sessions.append(session_id)
        await asyncio.sleep(self.hold_s)
        if not self.fleet.complete(cp):
            self.stuck += 1  # the start command never arrived: Central keeps it busy
            return
        deadline = time.monotonic() + TICKET_WAIT_S
        while session_id not in self.events.tickets:
            if time.monotonic() > deadline:
                self.stuck += 1
                return
            await asyncio.sleep(0.05)
        self.idle.append(cp)

    def summary(self) -> dict:
        return {"requests": self.requests, "sessions": len(self.sessions),
                "no_idle_cp": self.no_idle_cp, "stuck": self.stuck,
                "request_to_command": self.latencies.summary()}
