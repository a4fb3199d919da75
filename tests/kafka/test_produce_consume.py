"""Producer order per key; AssignedConsumer start, catch-up and resume from commits."""
from __future__ import annotations

from collections import defaultdict

import pytest
from confluent_kafka import TopicPartition

import evwire
from evkafka import client, names


def test_one_keys_records_arrive_in_order_on_one_partition(kafka_bootstrap, topics, produce,
                                                           collect, seqs):
    acked = produce(names.cp_events(), "CP7", range(200))
    assert len({partition for partition, _ in acked}) == 1
    offsets = [offset for _, offset in acked]
    assert offsets == list(range(offsets[0], offsets[0] + 200))
    consumer = client.AssignedConsumer(kafka_bootstrap, names.central_group(), [names.cp_events()])
    try:
        records = collect(consumer, 200, settle=0.5)
    finally:
        consumer.close()
    assert seqs(records) == list(range(200))
    assert {m.key() for m in records} == {b"CP7"}


def test_each_key_keeps_its_order_when_keys_interleave(kafka_bootstrap, topics, collect):
    keys = [f"CP{i}" for i in range(1, 9)]
    producer = client.make_producer(kafka_bootstrap)
    for seq in range(30):
        for key in keys:
            producer.produce(names.cp_events(), key=key.encode(),
                             value=evwire.dumps({"cp_id": key, "seq": seq}))
    assert producer.flush(30) == 0
    consumer = client.AssignedConsumer(kafka_bootstrap, names.central_group(), [names.cp_events()])
    try:
        records = collect(consumer, 30 * len(keys), settle=0.5)
    finally:
        consumer.close()
    by_key: dict[bytes, list[int]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for m in records:
        by_key[m.key()].append(evwire.loads(m.value())["seq"])
        partitions[m.key()].add(m.partition())
    assert dict(by_key) == {k.encode(): list(range(30)) for k in keys}
    assert all(len(p) == 1 for p in partitions.values())
    assert len({p for ps in partitions.values() for p in ps}) > 1  # keys do spread


def test_consumer_started_before_any_data_gets_later_records(kafka_bootstrap, topics, produce,
                                                            collect, seqs):
    consumer = client.AssignedConsumer(kafka_bootstrap, names.driver_group("D1"),
                                       [names.driver_events()])
    try:
        assert collect(consumer, 1, timeout=1.0) == []
        produce(names.driver_events(), "D1", range(5))
        assert seqs(collect(consumer, 5, settle=0.3)) == list(range(5))
    finally:
        consumer.close()


def test_resume_gives_exactly_the_uncommitted_records(kafka_bootstrap, topics, produce, collect,
                                                       seqs):
    produce(names.cp_events(), "CP1", range(10))
    group, topic = names.central_group(), [names.cp_events()]
    first = client.AssignedConsumer(kafka_bootstrap, group, topic)
    try:
        records = collect(first, 10)
        assert seqs(records) == list(range(10))
        first.commit(records[5])  # effects of seq 0..5 stored; 6..9 not yet
    finally:
        first.close()

    second = client.AssignedConsumer(kafka_bootstrap, group, topic)
    try:
        again = collect(second, 4, settle=1.0)
        assert seqs(again) == [6, 7, 8, 9]
        second.commit(again[-1])
    finally:
        second.close()

    third = client.AssignedConsumer(kafka_bootstrap, group, topic)
    try:
        assert collect(third, 1, timeout=2.0) == []
        produce(names.cp_events(), "CP1", [10])
        assert seqs(collect(third, 1, settle=0.3)) == [10]
    finally:
        third.close()


def test_commit_offsets_over_several_partitions(kafka_bootstrap, topics, produce, collect, seqs):
    for key in ("CP1", "CP2", "CP3", "CP4"):
        produce(names.cp_events(), key, range(3))
    group, topic = names.central_group(), [names.cp_events()]
    first = client.AssignedConsumer(kafka_bootstrap, group, topic)
    try:
        records = collect(first, 12)
        done = [m for m in records if m.key() in (b"CP1", b"CP2")]
        last: dict[int, int] = {}
        for m in done:
            last[m.partition()] = max(last.get(m.partition(), -1), m.offset())
        first.commit_offsets([TopicPartition(names.cp_events(), p, off + 1)
                              for p, off in last.items()])
        first.commit_offsets([])  # nothing to commit is no error
    finally:
        first.close()
    second = client.AssignedConsumer(kafka_bootstrap, group, topic)
    try:
        rest = collect(second, 6, settle=1.0)
    finally:
        second.close()
    committed_partitions = set(last)
    expected = [m for m in records if m.partition() not in committed_partitions
                or m.offset() > last[m.partition()]]
    assert sorted((m.key(), seq) for m, seq in zip(rest, seqs(rest))) == \
        sorted((m.key(), seq) for m, seq in zip(expected, seqs(expected)))
    assert {m.key() for m in rest} >= {b"CP3", b"CP4"}


def test_groups_keep_their_own_offsets(kafka_bootstrap, topics, produce, collect, seqs):
    produce(names.driver_events(), "D1", range(4))
    mine = client.AssignedConsumer(kafka_bootstrap, names.driver_group("D1"),
                                   [names.driver_events()])
    try:
        records = collect(mine, 4)
        mine.commit(records[-1])
    finally:
        mine.close()
    other = client.AssignedConsumer(kafka_bootstrap, names.driver_group("D2"),
                                    [names.driver_events()])
    try:
        assert seqs(collect(other, 4, settle=0.3)) == [0, 1, 2, 3]
    finally:
        other.close()


def test_consumer_of_a_missing_topic_is_kafka_unavailable(kafka_bootstrap, kafka_ns):
    absent = kafka_ns + "never-created"
    with pytest.raises(client.KafkaUnavailable, match="never-created"):
        client.AssignedConsumer(kafka_bootstrap, names.central_group(), [absent])
