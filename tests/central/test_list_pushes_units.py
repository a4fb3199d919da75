"""evcentral.list_pushes: one CP's list per turn of the event loop, with whatever else
is ready run in between, and one waiting push per CP (its newest announcement)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from evcentral.list_pushes import ListPushes


def test_pushes_take_turns_with_other_work_and_keep_the_newest_announcement():
    events: list[str] = []

    def push(cp, version) -> int:
        events.append(f"push {cp.cp_id} {version}")
        return 1

    async def scenario() -> None:
        pushes = ListPushes(push)
        cps = [SimpleNamespace(cp_id=f"CP{i}") for i in range(3)]
        for cp in cps:
            pushes.announced(cp, None)
        pushes.announced(cps[0], "OLD")  # announced again before its turn: the newest wins
        assert events == [] and pushes.waiting == 3  # nothing pushed inside the handler

        async def other_work() -> None:  # a heartbeat read between two pushes
            for turn in range(3):
                events.append(f"work {turn}")
                await asyncio.sleep(0)

        await asyncio.gather(other_work(), asyncio.sleep(0.05))
        assert pushes.waiting == 0

    asyncio.run(scenario())
    pushes_seen = [e for e in events if e.startswith("push")]
    assert pushes_seen == ["push CP0 OLD", "push CP1 None", "push CP2 None"]
    # Never two pushes in a row while other work was ready.
    assert events[:5] == ["work 0", "push CP0 OLD", "work 1", "push CP1 None", "work 2"]
