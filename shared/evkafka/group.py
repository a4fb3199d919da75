"""A consumer that shares its topics' partitions with the other members of its group.

Several Centrals on one Kafka cluster (hub/evcentral/cluster.py) subscribe as one
consumer group: Kafka divides the partitions between them and hands a stopped or
killed member's partitions to the others (after SESSION_TIMEOUT_MS for a kill -9).
Same interface as AssignedConsumer (consume, commit_offsets, close); offsets are
committed synchronously once a batch is stored, so a partition that moves is read
on from there by its new owner (a record handled but not committed comes again:
Central's effects are idempotent).
"""
from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from evkafka.client import consumer_config, log_warning, retry_while_coordinator_settles
from evwire.trace import log

# A member killed with -9 says nothing: the broker gives its partitions away after
# this silence (6 s is Apache Kafka's group.min.session.timeout.ms, the lowest allowed).
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000


class GroupConsumer:
    def __init__(self, bootstrap: str, group_id: str, topics: list[str],
                 client_id: str = "evcharge", member: str | None = None,
                 overrides: dict | None = None):
        conf = consumer_config(bootstrap, group_id, client_id)
        conf.update({"session.timeout.ms": SESSION_TIMEOUT_MS,
                     "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS})
        if member:
            # Static membership (KIP-345): a member restarted under the same name gets its
            # partitions back at once, without a rebalance nor waiting for its old
            # session to time out (a Central restarted by systemd after a crash).
            conf["group.instance.id"] = member
        conf.update(overrides or {})
        self.topics = list(topics)
        self.assigned: set[tuple[str, int]] = set()
        self.consumer = Consumer(conf)
        self.consumer.subscribe(self.topics, on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_revoke)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned |= {(tp.topic, tp.partition) for tp in partitions}
        log("info", f"kafka: group partitions now {describe(self.assigned)}")

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned -= {(tp.topic, tp.partition) for tp in partitions}

    def consume(self, max_messages: int = 500, timeout: float = 0.5) -> list[Message]:
        msgs = self.consumer.consume(max_messages, timeout)
        return [m for m in msgs if not m.error()]

    def commit_offsets(self, offsets: list[TopicPartition]) -> None:
        """Commit these next-offsets of the partitions still assigned here; a partition
        handed to another member meanwhile is its business now."""
        kept = [tp for tp in offsets if (tp.topic, tp.partition) in self.assigned]
        if not kept:
            return
        try:
            retry_while_coordinator_settles(
                lambda: self.consumer.commit(offsets=kept, asynchronous=False))
        except KafkaException as exc:
            log_warning(f"offsets not committed ({exc}): a rebalance moved the partitions; "
                        "their new owner reads the records again (idempotent)")

    def close(self) -> None:
        self.consumer.close()


def describe(assigned: set[tuple[str, int]]) -> str:
    """"topic [0, 1, 2]; other [3]" (or "none"): what a member reads now."""
    topics: dict[str, list[int]] = {}
    for topic, partition in sorted(assigned):
        topics.setdefault(topic, []).append(partition)
    return "; ".join(f"{topic} {parts}" for topic, parts in topics.items()) or "none"
