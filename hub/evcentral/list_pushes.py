"""Offline authorisation lists sent a page at a time, paced.

A list is every driver, in pages of up to 3 KB, for every CP: the work grows with
drivers times CPs. When a thousand Monitors register at once (Central restarted, a
failover), pushing each whole list in the callback that answered the registration
kept the event loop busy for seconds: heartbeats and telemetry waited behind the
lists, CPs timed out as DISCONNECTED and drivers were refused. A whole list of
thousands of drivers queued at once on one connection also passed the slow-client
limit (Config.write_buffer_limit) and cut the Monitor off.

So pages go out a few per turn of the event loop, whatever else is ready runs in
between, at most `rate` pages a second over all CPs, never more than BACKLOG_BYTES
waiting unread on one connection, and to at most IN_FLIGHT CPs at a time. A list
arrives later, which nothing waits on: the Monitor keeps the one it has meanwhile.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from evcentral.auth_lists import AuthLists
from evcentral.config import DEFAULT_AUTH_LIST_RATE
from evcentral.registry import ChargePoint, Registry

PAGES_PER_TURN = 8  # pages sent before letting the rest of the loop run
IN_FLIGHT = 64  # CPs whose lists are being sent at once
BACKLOG_BYTES = 32 * 1024  # unread bytes on a connection before its next page waits
IDLE_S = 0.05  # the wait when every list being sent waits on its reader


class _Push:
    __slots__ = ("cp", "connection", "pages", "total", "held")

    def __init__(self, cp: ChargePoint, pages: list[dict], held: str | None):
        self.cp, self.connection = cp, cp.connection
        self.pages, self.total, self.held = deque(pages), len(pages), held


class ListPushes:
    def __init__(self, lists: AuthLists, registry: Registry, rate: float = DEFAULT_AUTH_LIST_RATE):
        self.lists = lists
        self.registry = registry
        self.rate = float(rate)
        # CP id -> (CP, the version its Monitor announced last): one per CP, the newest.
        self._waiting: dict[str, tuple[ChargePoint, str | None]] = {}
        self._sending: dict[str, _Push] = {}
        self._allowance = self.rate  # pages that may go now (a second's worth at most)
        self._task: asyncio.Task | None = None
        self._last = 0.0

    def announced(self, cp: ChargePoint, version: str | None) -> None:
        """The Monitor said which list it holds: compared (and sent) in turns of its own."""
        self._waiting[cp.cp_id] = (cp, version)
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self._last = loop.time()
            self._task = loop.create_task(self._drain())

    @property
    def waiting(self) -> int:
        """CPs whose list is still to be compared or sent."""
        return len(self._waiting) + len(self._sending)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        pause = 0.0
        while self._waiting or self._sending:
            # Always a turn of the loop first: after the reply that announced it, and
            # after whatever else is ready (heartbeats, telemetry, other Monitors).
            await asyncio.sleep(pause)
            now = loop.time()
            self._allowance = min(self.rate, self._allowance + (now - self._last) * self.rate)
            self._last = now
            self._admit()
            sent = self._send_some(min(PAGES_PER_TURN, int(self._allowance)))
            self._allowance -= sent
            if self._allowance < 1:
                pause = (1 - self._allowance) / self.rate
            elif sent == 0 and self._sending:
                pause = IDLE_S  # every reader is behind: give them time
            else:
                pause = 0.0

    def _admit(self) -> None:
        while self._waiting and len(self._sending) < IN_FLIGHT:
            cp_id = next(iter(self._waiting))
            cp, held = self._waiting.pop(cp_id)
            if cp_id in self._sending or cp.connection is None:
                continue  # being sent already (its announcement comes again), or gone
            pages = self.lists.due(cp, held)
            if pages:
                self._sending[cp_id] = _Push(cp, pages, held)

    def _send_some(self, budget: int) -> int:
        """Up to `budget` pages, a page to each CP in turn; the number sent."""
        sent = 0
        while sent < budget:
            sent_before = sent
            for cp_id in list(self._sending):
                if sent >= budget:
                    break
                sent += self._send_next(cp_id)
            if sent == sent_before:
                break  # nothing to send, or every reader is behind
        return sent

    def _send_next(self, cp_id: str) -> int:
        push = self._sending[cp_id]
        connection: Any = push.cp.connection
        if connection is None or connection is not push.connection:
            self._abandon(cp_id)  # the Monitor left (or came back on a new link)
            return 0
        if _backlog(connection) > BACKLOG_BYTES:
            return 0  # it has not read the last pages yet
        if not self.registry.send_to(push.cp, push.pages.popleft()):
            self._abandon(cp_id)
            return 0
        if not push.pages:
            del self._sending[cp_id]
            self.lists.log_pushed(push.cp, push.total, push.held)
        return 1

    def _abandon(self, cp_id: str) -> None:
        push = self._sending.pop(cp_id)
        self.lists.forget(push.cp)


def _backlog(connection: Any) -> int:
    """Bytes written to the connection and not yet taken by the peer (0 if it cannot say)."""
    backlog = getattr(connection, "backlog", None)
    return backlog() if callable(backlog) else 0
