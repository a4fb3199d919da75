"""Helpers for the evkafka tests: namespaced topics, producing, collecting records."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import Message

import evwire
from evkafka import client, names


@pytest.fixture
def topics(kafka_bootstrap, kafka_ns) -> list[str]:
    """The network's three topics in this test's namespace, created."""
    wanted = names.all_topics()
    client.ensure_topics(kafka_bootstrap, wanted)
    return wanted


def payload(seq: int, cp_id: str = "CP1") -> bytes:
    """A record value as the network writes it: a CBOR message payload."""
    return evwire.dumps({"type": "charging_data", "cp_id": cp_id, "seq": seq})


def seq_of(msg: Message) -> int:
    return evwire.loads(msg.value())["seq"]


@pytest.fixture
def produce(kafka_bootstrap) -> Callable[..., list[tuple[int, int]]]:
    """produce(topic, key, seqs) -> [(partition, offset)] once every record is acknowledged."""

    def _produce(topic: str, key: str, seqs, timeout: float = 30.0) -> list[tuple[int, int]]:
        producer = client.make_producer(kafka_bootstrap, client_id="evkafka-test")
        acked: list[tuple[int, int]] = []
        errors: list[str] = []

        def on_delivery(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                acked.append((msg.partition(), msg.offset()))

        for seq in seqs:
            producer.produce(topic, key=key.encode(), value=payload(seq, key),
                             on_delivery=on_delivery)
        remaining = producer.flush(timeout)
        assert remaining == 0 and not errors, f"undelivered: {remaining}, errors: {errors}"
        return acked

    return _produce


def collect_records(consumer: client.AssignedConsumer, count: int, timeout: float = 20.0,
                    settle: float = 0.0) -> list[Message]:
    """Records from `consumer` until `count` arrived (then `settle` s more for extras)."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(consumer.consume(max_messages=count - len(got), timeout=0.5))
    settle_until = time.monotonic() + settle
    while time.monotonic() < settle_until:
        got.extend(consumer.consume(max_messages=100, timeout=0.2))
    return got


@pytest.fixture
def collect() -> Callable[..., list[Message]]:
    """collect(consumer, count, timeout=20, settle=0) -> the records that arrived."""
    return collect_records


@pytest.fixture
def seqs() -> Callable[[list[Message]], list[int]]:
    """seqs(records) -> the `seq` field of each record's CBOR value, in arrival order."""
    return lambda records: [seq_of(m) for m in records]
