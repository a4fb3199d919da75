"""Helpers of the Monitor's Kafka tests: read cp-events back, send a session."""
from __future__ import annotations

import time

from evkafka import names
from evkafka.client import AssignedConsumer
from evwire import dumps, loads
from evwire.auth import record_verifies


def consume(bootstrap: str, count: int, timeout: float = 20.0) -> list:
    """Every cp-events record until `count` arrived (or the timeout), oldest first."""
    consumer = AssignedConsumer(bootstrap, names.namespace() + "monitor-test",
                                [names.cp_events()])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and time.monotonic() < deadline:
            got.extend(consumer.consume(500, 0.5))
        # A little longer, to catch duplicates beyond the expected count.
        got.extend(consumer.consume(500, 1.0))
    finally:
        consumer.close()
    return sorted(got, key=lambda m: (m.partition(), m.offset()))


def unsigned(record, secret: str = "s3cret") -> bytes:
    """The Engine's payload inside a cp-events record, once its `mac` verified with the
    CP's secret (the Monitor signs each record at produce time)."""
    msg = loads(record.value())
    assert record_verifies(msg, secret), msg
    del msg["mac"]
    return dumps(msg)


def send_session(engine, session_id: str, samples: int) -> list[dict]:
    msgs = [engine.charging_data(session_id, n) for n in range(1, samples + 1)]
    msgs.append(engine.completion(session_id, kwh=samples * 0.003))
    for msg in msgs:
        engine.send(msg)
    return msgs
