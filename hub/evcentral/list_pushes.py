"""Offline authorisation lists pushed one CP per turn of the event loop.

A list is pages of a few kilobytes each for every CP. When a thousand Monitors
register at once (Central restarted, a failover), pushing every list in the
callback that answered the registration kept the loop busy for seconds: heartbeats
and telemetry waited behind the lists, CPs timed out as DISCONNECTED, and drivers
were refused. Here each push is its own step, with the messages that arrived since
read in between; a list arrives a little later, which nothing waits on.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from evcentral.registry import ChargePoint

Push = Callable[[ChargePoint, "str | None"], int]


class ListPushes:
    def __init__(self, push: Push):
        self._push = push
        # CP id -> (CP, the version its Monitor announced last): at most one per CP.
        self._waiting: dict[str, tuple[ChargePoint, str | None]] = {}
        self._task: asyncio.Task | None = None

    def announced(self, cp: ChargePoint, version: str | None) -> None:
        """The Monitor said which list it holds: compare (and push) in a step of its own."""
        self._waiting[cp.cp_id] = (cp, version)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def _drain(self) -> None:
        while self._waiting:
            # After the reply that announced it, and after whatever else is ready.
            await asyncio.sleep(0)
            cp_id = next(iter(self._waiting))
            cp, version = self._waiting.pop(cp_id)
            self._push(cp, version)  # never raises: a failed push is logged and retried
