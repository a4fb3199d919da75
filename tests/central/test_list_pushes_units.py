"""evcentral.list_pushes in-process, with stand-ins for the lists, the registry and the
connections: pages take turns with the loop's other work, keep to the rate, wait for a
reader that is behind, and a push whose Monitor left is abandoned (due again later)."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from evcentral import list_pushes
from evcentral.list_pushes import ListPushes


class FakeLists:
    def __init__(self, pages: int):
        self.pages = pages
        self.logged: list[str] = []
        self.forgotten: list[str] = []
        self.asked: list[tuple[str, str | None]] = []

    def due(self, cp, held):
        self.asked.append((cp.cp_id, held))
        return [{"cp_id": cp.cp_id, "page": n} for n in range(1, self.pages + 1)]

    def forget(self, cp) -> None:
        self.forgotten.append(cp.cp_id)

    def log_pushed(self, cp, pages: int, held) -> None:
        self.logged.append(cp.cp_id)


class FakeConnection:
    def __init__(self, backlog: int = 0):
        self.unread = backlog

    def backlog(self) -> int:
        return self.unread


class FakeRegistry:
    def __init__(self, events: list):
        self.events = events

    def send_to(self, cp, msg: dict) -> bool:
        self.events.append(f"{cp.cp_id}.{msg['page']}")
        return True


def cp(cp_id: str, backlog: int = 0):
    return SimpleNamespace(cp_id=cp_id, connection=FakeConnection(backlog))


def run(scenario) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_pages_take_turns_with_other_work_and_the_newest_announcement_counts():
    events: list[str] = []
    lists = FakeLists(pages=2 * list_pushes.PAGES_PER_TURN)

    async def scenario() -> None:
        pushes = ListPushes(lists, FakeRegistry(events))
        a, b = cp("A"), cp("B")
        pushes.announced(a, None)
        pushes.announced(b, None)
        pushes.announced(a, "OLD")  # again before its turn: one push, the newest version
        assert events == [] and pushes.waiting == 2  # nothing sent inside the handler

        async def other_work() -> None:  # a heartbeat read between two turns
            for turn in range(6):
                events.append(f"work {turn}")
                await asyncio.sleep(0)

        await other_work()
        while pushes.waiting:
            await asyncio.sleep(0.01)

    run(scenario)
    assert lists.asked == [("A", "OLD"), ("B", None)]
    assert lists.logged == ["A", "B"] and lists.forgotten == []
    pages = [e for e in events if not e.startswith("work")]
    assert len(pages) == 2 * 2 * list_pushes.PAGES_PER_TURN
    # While other work was ready, a turn's pages between two pieces of it, no more.
    while_busy = events[:events.index("work 5")]
    assert while_busy[0] == "work 0"
    assert while_busy.count("work 1") == 1 and len(while_busy) > 6  # pages went in between
    run_length = longest = 0
    for event in while_busy:
        run_length = 0 if event.startswith("work") else run_length + 1
        longest = max(longest, run_length)
    assert longest == list_pushes.PAGES_PER_TURN


def test_pages_keep_to_the_rate():
    events: list[str] = []
    lists = FakeLists(pages=40)

    async def scenario() -> float:
        pushes = ListPushes(lists, FakeRegistry(events), rate=50)
        started = time.monotonic()
        for name in ("A", "B", "C"):
            pushes.announced(cp(name), None)
        while pushes.waiting:
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert len(events) == 120
    # A second's worth (50) at once, the other 70 at 50 a second: at least 1.4 s.
    assert elapsed >= 1.3, elapsed


def test_a_reader_that_is_behind_waits_and_the_others_go_on():
    events: list[str] = []
    lists = FakeLists(pages=3)

    async def scenario() -> None:
        pushes = ListPushes(lists, FakeRegistry(events))
        slow, fast = cp("SLOW", backlog=list_pushes.BACKLOG_BYTES + 1), cp("FAST")
        pushes.announced(slow, None)
        pushes.announced(fast, None)
        while "FAST" not in lists.logged:
            await asyncio.sleep(0.01)
        assert not any(e.startswith("SLOW") for e in events)  # nothing while it is behind
        slow.connection.unread = 0  # it read what was queued
        while pushes.waiting:
            await asyncio.sleep(0.01)

    run(scenario)
    assert events.count("SLOW.1") == 1 and lists.logged == ["FAST", "SLOW"]


def test_a_push_whose_monitor_left_or_came_back_is_abandoned():
    events: list[str] = []
    lists = FakeLists(pages=3)

    async def scenario() -> None:
        pushes = ListPushes(lists, FakeRegistry(events))
        left = cp("LEFT", backlog=list_pushes.BACKLOG_BYTES + 1)
        back = cp("BACK", backlog=list_pushes.BACKLOG_BYTES + 1)
        pushes.announced(left, None)
        pushes.announced(back, None)
        await asyncio.sleep(0.1)  # both admitted, both waiting on their readers
        left.connection = None
        back.connection = FakeConnection()  # a new link: the old pages are not for it
        while pushes.waiting:
            await asyncio.sleep(0.01)

    run(scenario)
    assert events == [] and lists.logged == []
    assert sorted(lists.forgotten) == ["BACK", "LEFT"]
