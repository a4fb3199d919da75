"""ensure_topics: namespaced, idempotent, safe to race; failures are KafkaUnavailable."""
from __future__ import annotations

import threading
import time

import pytest

from evharness.procs import free_port
from evkafka import client, names


def partition_counts(bootstrap: str, wanted: list[str]) -> dict[str, int]:
    md = client.admin(bootstrap).list_topics(timeout=10).topics
    return {t: len(md[t].partitions) for t in wanted if t in md}


def test_topic_names_carry_the_namespace(kafka_ns):
    assert names.all_topics() == [kafka_ns + "evcharge.cp-events",
                                  kafka_ns + "evcharge.driver-events",
                                  kafka_ns + "evcharge.driver-requests",
                                  kafka_ns + "evcharge.dead-letter"]
    assert names.dead_letter() == kafka_ns + "evcharge.dead-letter"
    assert names.cp_status() == kafka_ns + "evcharge.cp-status"
    assert names.central_group() == kafka_ns + "evcharge-central"
    assert names.driver_group("D1") == kafka_ns + "evcharge-driver-D1"


def test_ensure_topics_creates_each_once(kafka_bootstrap, kafka_ns):
    wanted = names.all_topics()
    assert partition_counts(kafka_bootstrap, wanted) == {}
    client.ensure_topics(kafka_bootstrap, wanted)
    expected = {t: client.DEFAULT_PARTITIONS for t in wanted}
    assert partition_counts(kafka_bootstrap, wanted) == expected
    # A second call (another process starting) changes nothing and does not fail.
    client.ensure_topics(kafka_bootstrap, wanted, partitions=2)
    assert partition_counts(kafka_bootstrap, wanted) == expected


def test_ensure_topics_races_with_itself(kafka_bootstrap, kafka_ns):
    wanted = [kafka_ns + "race-" + str(i) for i in range(3)]
    errors: list[BaseException] = []

    def create():
        try:
            client.ensure_topics(kafka_bootstrap, wanted, partitions=3)
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert partition_counts(kafka_bootstrap, wanted) == {t: 3 for t in wanted}


def test_ensure_topics_partial_set(kafka_bootstrap, kafka_ns):
    first, second = kafka_ns + "first", kafka_ns + "second"
    client.ensure_topics(kafka_bootstrap, [first], partitions=2)
    client.ensure_topics(kafka_bootstrap, [first, second], partitions=4)
    assert partition_counts(kafka_bootstrap, [first, second]) == {first: 2, second: 4}


def test_wait_broker_fails_fast_on_a_dead_address():
    dead = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(client.KafkaUnavailable, match=dead):
        client.wait_broker(dead, timeout=1.0)
    # Quickly: within the timeout plus one metadata attempt, not librdkafka's defaults.
    assert time.monotonic() - started < 10


def test_ensure_topics_on_a_dead_address_is_kafka_unavailable(kafka_ns):
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(client.KafkaUnavailable):
        client.ensure_topics(dead, names.all_topics(), timeout=1.0)


def test_wait_broker_accepts_the_test_broker(kafka_bootstrap):
    client.wait_broker(kafka_bootstrap, timeout=20)
