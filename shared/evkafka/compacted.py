"""Compacted topics (`evcharge.cp-status`): created by Central, which writes them, and by
readers such as the MQTT bridge that may start first; either side may win the race."""
from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import NewTopic

from evkafka.client import DEFAULT_PARTITIONS, admin, wait_broker


def ensure_compacted_topic(bootstrap: str, topic: str, timeout: float = 10.0) -> None:
    """Create `topic` with cleanup.policy=compact unless it exists (idempotent)."""
    wait_broker(bootstrap, timeout)
    client = admin(bootstrap)
    if topic in client.list_topics(timeout=timeout).topics:
        return
    futures = client.create_topics(
        [NewTopic(topic, num_partitions=DEFAULT_PARTITIONS, replication_factor=-1,
                  config={"cleanup.policy": "compact"})], operation_timeout=timeout)
    for fut in futures.values():
        try:
            fut.result(timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
                raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = client.list_topics(timeout=timeout).topics.get(topic)
        if md is not None and md.partitions and not md.error:
            return
        time.sleep(0.1)
    raise RuntimeError(f"topic {topic} not ready on {bootstrap} within {timeout:g} s")
