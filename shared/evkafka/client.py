"""Kafka clients configured the one way the network uses them.

Producers: acks=all, idempotent (no duplicates from retries, order kept per key).
Consumers: no auto-commit (commit after the record's effect is stored),
explicit partition assignment resumed from the group's committed offsets:
one consumer per group in this system (one Central, one process per driver),
and it avoids slow group rebalances on small brokers.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from evkafka.logs import librdkafka_logger, log_settings
from evkafka.topic_ids import MISSING, SAME, UNKNOWN, compare, topic_ids

DEFAULT_PARTITIONS = 6

# Answers of a group coordinator that is moving or still loading its offsets:
# Apache Kafka gives them for a moment after it (re)starts, even though it
# already answers metadata requests; librdkafka does not retry them for
# committed() or a synchronous commit, so we do.
COORDINATOR_SETTLING = frozenset({
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
})
COORDINATOR_RETRY_S = 20.0
# How often a consumer checks that its topics are still the ones it was assigned.
TOPIC_CHECK_S = 5.0
TOPIC_CHECK_TIMEOUT_S = 2.0
TOPIC_IDS_FIRST_S = 0.5

T = TypeVar("T")


class KafkaUnavailable(RuntimeError):
    """The broker could not be reached in time."""


# Connection security (SASL_SSL, SCRAM, CA file) from the tier's --kafka-config
# (evkafka.properties), set once at start-up and merged into every client this
# module configures: producers, consumers and admin clients alike, so no client
# of the process can reach the cluster unauthenticated by being forgotten.
_security: dict[str, str] = {}


def use_security(props: dict[str, str]) -> None:
    """Every client configured from now on carries props (a --kafka-config file)."""
    _security.clear()
    _security.update(props)


def security() -> dict[str, str]:
    """The connection-security settings in force (a copy; may hold a password)."""
    return dict(_security)


def producer_config(bootstrap: str, client_id: str = "evcharge") -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "message.timeout.ms": 0,  # never give up on a record: delivery or process death
        "socket.keepalive.enable": True,
        "reconnect.backoff.max.ms": 2000,
        # librdkafka logs through Python logging, never raw to stderr (evkafka.logs)
        **log_settings(),
        **_security,
    }


def make_producer(bootstrap: str, client_id: str = "evcharge", **overrides) -> Producer:
    conf = producer_config(bootstrap, client_id)
    conf.update(overrides)
    return Producer(conf)


def consumer_config(bootstrap: str, group_id: str, client_id: str = "evcharge") -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        # How long the broker may hold a fetch that finds no new record. Apache Kafka
        # answers as soon as a record arrives, whatever this is; the local Tansu broker
        # holds the fetch for a good part of it (librdkafka's default 500 ms added
        # about 200 ms per consumer hop there: see docs/BENCHMARKS.md). 100 ms keeps
        # that small at the price of 10 empty fetches a second per idle consumer.
        "fetch.wait.max.ms": 100,
        "reconnect.backoff.max.ms": 2000,
        # librdkafka logs through Python logging, never raw to stderr (evkafka.logs)
        **log_settings(),
        **_security,
    }


def admin_config(bootstrap: str, **overrides) -> dict:
    return {"bootstrap.servers": bootstrap, **log_settings(), **_security, **overrides}


def log_warning(text: str) -> None:
    """A line of this module, through the tiers' logging like librdkafka's own."""
    librdkafka_logger().warning(text)


def admin(bootstrap: str) -> AdminClient:
    return AdminClient(admin_config(bootstrap))


def wait_broker(bootstrap: str, timeout: float = 20.0) -> None:
    """Return once the broker answers a metadata request; KafkaUnavailable otherwise."""
    deadline = time.monotonic() + timeout
    client = admin(bootstrap)
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            last = exc
            time.sleep(0.2)
    raise KafkaUnavailable(f"Kafka broker at {bootstrap} not reachable within {timeout}s ({last})")


def ensure_topics(bootstrap: str, topics: Iterable[str],
                  partitions: int = DEFAULT_PARTITIONS, timeout: float = 20.0) -> None:
    """Create the topics that do not exist yet (idempotent; races with others are fine)."""
    client = admin(bootstrap)
    wait_broker(bootstrap, timeout)
    existing = set(client.list_topics(timeout=timeout).topics)
    missing = [t for t in topics if t not in existing]
    if not missing:
        return
    # replication_factor=-1: the cluster's default.replication.factor, so a
    # production Apache Kafka cluster replicates the topics as its operator set
    # (a hard-coded 1 would leave them on one broker); the test brokers say 1.
    futures = client.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=-1) for t in missing],
        operation_timeout=timeout,
    )
    for fut in futures.values():
        try:
            fut.result(timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
                raise
    # Wait until metadata shows them with leaders (new topics take a moment).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = client.list_topics(timeout=timeout).topics
        if all(t in md and md[t].partitions and not md[t].error for t in missing):
            return
        time.sleep(0.1)
    raise KafkaUnavailable(f"topics {missing} not ready on {bootstrap} within {timeout}s")


def settling_coordinator(exc: KafkaException) -> bool:
    err = exc.args[0] if exc.args else None
    return isinstance(err, KafkaError) and err.code() in COORDINATOR_SETTLING


def retry_while_coordinator_settles(operation: Callable[[], T],
                                    timeout: float = COORDINATOR_RETRY_S) -> T:
    """Run `operation`, again while the group coordinator is settling (see above).

    Any other error, or a coordinator still settling after `timeout`, is raised
    as the KafkaException it is.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return operation()
        except KafkaException as exc:
            if not settling_coordinator(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.2)


class AssignedConsumer:
    """A consumer of whole topics with explicit assignment and group offsets.

    It assigns every partition of `topics`, starting from the offsets committed
    for `group_id` (or the earliest), and commits synchronously when told.
    Only one instance per group may run at a time (true in this system).
    Every TOPIC_CHECK_S it checks that its topics were not replaced (evkafka.topic_ids):
    a replaced topic is assigned again from the group's offsets there (or its start),
    a missing one is created again first.
    """

    def __init__(self, bootstrap: str, group_id: str, topics: list[str],
                 client_id: str = "evcharge", timeout: float = 20.0,
                 overrides: dict | None = None):
        # overrides: extra librdkafka settings, e.g. a `logger` so a CLI keeps
        # librdkafka's connection chatter off the user's terminal.
        conf = consumer_config(bootstrap, group_id, client_id)
        conf.update(overrides or {})
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.consumer = Consumer(conf)
        self._admin = AdminClient(admin_config(bootstrap, **(overrides or {})))
        self._topic_ids: dict[str, str] | None = None
        self._checked_at = time.monotonic()
        try:
            self._assign_from_committed(timeout)
        except BaseException:
            self.consumer.close()  # no librdkafka instance left behind a failed start
            raise

    def _assign_from_committed(self, timeout: float) -> None:
        start = []
        for tp in self._committed_offsets(self.topics, timeout):
            # OFFSET_INVALID (-1001) means nothing committed: start at the beginning.
            offset = tp.offset if tp.offset >= 0 else -2  # -2 = OFFSET_BEGINNING
            start.append(TopicPartition(tp.topic, tp.partition, offset))
        self.consumer.assign(start)
        # After the assignment (its errors first, as they always were), and briefly: a
        # cluster that does not answer now is asked again at the first check.
        ids = topic_ids(self._admin, self.topics, min(timeout, TOPIC_IDS_FIRST_S))
        self._topic_ids = ids if ids and all(ids.values()) else None

    def _check_topics(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < TOPIC_CHECK_S:
            return
        self._checked_at = now
        current = topic_ids(self._admin, self.topics, TOPIC_CHECK_TIMEOUT_S)
        if self._topic_ids is None:  # not known at the start (cluster slow): learn them now
            if current and all(current.values()):
                self._topic_ids = current
            return
        verdict = compare(self._topic_ids, current)
        if verdict in (SAME, UNKNOWN):
            return
        log_warning(f"topic(s) {', '.join(self.topics)} were {verdict} on {self.bootstrap} "
                    "(a broker that lost its state?): reading them again from their start")
        try:
            if verdict == MISSING:
                ensure_topics(self.bootstrap, self.topics, timeout=TOPIC_CHECK_TIMEOUT_S * 5)
            self._assign_from_start(TOPIC_CHECK_TIMEOUT_S * 5)
        except (KafkaException, KafkaUnavailable) as exc:
            log_warning(f"could not assign the topics again yet ({exc}); retrying")

    def _assign_from_start(self, timeout: float) -> None:
        """Every partition of the new topics from its first record; the group's offsets
        there set to it too. Offsets this group committed there before the replacement
        was noticed came from the old topics and would skip records of the new ones."""
        ids = topic_ids(self._admin, self.topics, min(timeout, TOPIC_CHECK_TIMEOUT_S))
        self._topic_ids = ids if ids and all(ids.values()) else None
        parts = self._partitions(self.topics, timeout)
        firsts = [TopicPartition(tp.topic, tp.partition,
                                 self.consumer.get_watermark_offsets(tp, timeout=timeout)[0])
                  for tp in parts]
        self.consumer.assign([TopicPartition(tp.topic, tp.partition, -2) for tp in parts])
        retry_while_coordinator_settles(
            lambda: self.consumer.commit(offsets=firsts, asynchronous=False), timeout)

    def _partitions(self, topics: list[str], timeout: float) -> list[TopicPartition]:
        md = self.consumer.list_topics(timeout=timeout)
        parts: list[TopicPartition] = []
        for topic in topics:
            tmd = md.topics.get(topic)
            if tmd is None or not tmd.partitions:
                raise KafkaUnavailable(f"topic {topic} does not exist (ensure_topics first)")
            parts.extend(TopicPartition(topic, p) for p in sorted(tmd.partitions))
        return parts

    def _committed_offsets(self, topics: list[str], timeout: float) -> list[TopicPartition]:
        parts = self._partitions(topics, timeout)
        return retry_while_coordinator_settles(
            lambda: self.consumer.committed(parts, timeout=timeout), timeout)

    def poll(self, timeout: float = 0.5) -> Message | None:
        self._check_topics()
        msg = self.consumer.poll(timeout)
        if msg is None or msg.error():
            return None
        return msg

    def consume(self, max_messages: int = 500, timeout: float = 0.5) -> list[Message]:
        self._check_topics()
        msgs = self.consumer.consume(max_messages, timeout)
        return [m for m in msgs if not m.error()]

    def commit(self, msg: Message) -> None:
        """Commit past `msg` (synchronously): call after its effect is stored."""
        self.commit_offsets([TopicPartition(msg.topic(), msg.partition(), msg.offset() + 1)])

    def commit_offsets(self, offsets: list[TopicPartition]) -> None:
        """Commit these next-offsets (synchronously); nothing to do for an empty list.

        Never past what this consumer has read: an offset beyond its position can only
        come from a record of a topic replaced since (evkafka.topic_ids), and would make
        the group skip records of the new one."""
        offsets = self._not_past_position(offsets)
        if offsets:
            retry_while_coordinator_settles(
                lambda: self.consumer.commit(offsets=offsets, asynchronous=False))

    def _not_past_position(self, offsets: list[TopicPartition]) -> list[TopicPartition]:
        if not offsets:
            return offsets
        read = {(tp.topic, tp.partition): tp.offset for tp in self.consumer.position(
            [TopicPartition(tp.topic, tp.partition) for tp in offsets])}
        kept = []
        for tp in offsets:
            position = read.get((tp.topic, tp.partition), -1)
            if position < 0:  # nothing read there since the last assignment
                continue
            kept.append(TopicPartition(tp.topic, tp.partition, min(tp.offset, position)))
        return kept

    def close(self) -> None:
        self.consumer.close()
        self._admin = None
