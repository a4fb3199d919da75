"""The Driver's driver-events consumer: a record through EventStream._decode_ours
(key filter, decode, type and driver filter), then the SessionFollower's
Dispatcher with its real handlers, rendering to the real text and JSON outputs
(in memory) and remembering tickets in a real TicketBook. A damaged or hostile
event may be skipped or refused, never raise out of Dispatcher.handle."""
from __future__ import annotations

import io
import random
from pathlib import Path
from types import SimpleNamespace

import gen
from fuzzlib import Finding, Run, Target

from evdriver.context import DriverContext
from evdriver.events import EVENT_TYPES, EventStream
from evdriver.render import JsonOutput, TextOutput
from evdriver.session import Limits, SessionFollower
from evdriver.tickets import TicketBook
from evwire import loads

KEYS = (b"D1", b"D1", b"D1", b"D2", b"", None)


class FakeRecord:
    """The part of confluent_kafka.Message that _decode_ours reads."""

    def __init__(self, key: bytes | None, value: bytes | None, offset: int):
        self._key, self._value, self._offset = key, value, offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class FollowerContext(SimpleNamespace):
    """What SessionFollower uses of DriverContext; show_ticket is DriverContext's own."""

    show_ticket = DriverContext.show_ticket


def generate(rng: random.Random) -> bytes:
    head = bytes((rng.randint(0, 255),))
    if rng.random() < 0.7:
        msg = gen.message(rng, rng.choice(EVENT_TYPES))
        if rng.random() < 0.8:
            msg["driver_id"] = "D1"
        try:
            return head + gen.dumps(msg)
        except ValueError:
            return head
    return head + gen.payload(rng, conversation=False)


def _setup(workdir: Path) -> Run:
    workdir.mkdir(parents=True, exist_ok=True)
    stream = SimpleNamespace(key=b"D1", driver_id="D1")
    followers = []
    for output in (TextOutput(io.StringIO(), io.StringIO()),
                   JsonOutput(io.StringIO(), io.StringIO())):
        ctx = FollowerContext(stream=object(), client=object(), output=output,
                              settings=SimpleNamespace(reconnect_grace=5.0, json=False),
                              driver_id="D1", book=TicketBook(workdir, "D1"))
        followers.append((ctx, SessionFollower(ctx, "CP1", "S1", Limits(kwh=5.0))))
    offset = [0]

    def run(data: bytes) -> None:
        if not data:
            return
        offset[0] += 1
        record = FakeRecord(KEYS[data[0] % len(KEYS)], data[1:] or None, offset[0])
        event = EventStream._decode_ours(stream, record)  # type: ignore[arg-type]
        if event is None:
            return
        if event.get("driver_id", "D1") != "D1" or event.get("type") not in EVENT_TYPES:
            raise Finding("an event of another driver or type got through")
        for ctx, follower in followers:
            follower.ticket = None
            follower.dispatcher.handle(loads(data[1:]))
            for out in (ctx.output.out, ctx.output.err) if hasattr(ctx.output, "out") else ():
                if out.tell() > 1_000_000:
                    out.seek(0)
                    out.truncate()
    return run


TARGETS = [
    Target("driver.events", generate, _setup,
           "Driver: driver-events records through _decode_ours and the session's handlers"),
]
