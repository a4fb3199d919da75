"""This driver's events from driver-events, read with its own consumer group.

Records keyed by other drivers are skipped without decoding. A record counts
as handled once the caller asks for the next one, and its offset is committed
only after that (when the stream is next idle, or closed): a driver killed
while showing an event sees it again on restart, and tickets are
de-duplicated by session_id (tickets.TicketBook), so each is shown once.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

import evwire
from evdriver.errors import Unreachable
from evkafka import names
from evkafka.client import (
    AssignedConsumer,
    KafkaUnavailable,
    admin_config,
    ensure_topics,
    retry_while_coordinator_settles,
)
from evwire import types as t
from evwire.trace import log

# Types a driver follows; request answers (Kafka path) are read by KafkaLink.
EVENT_TYPES = (t.CHARGING_DATA, t.CHARGING_STATUS_UPDATE, t.CHARGE_COMPLETION,
               t.CHARGE_COMPLETION_NOTIFICATION)


class EventStream:
    def __init__(self, bootstrap: str, driver_id: str, logger: logging.Logger,
                 timeout: float = 10.0):
        self.bootstrap = bootstrap
        self.driver_id = driver_id
        self.key = driver_id.encode()
        self.topic = names.driver_events()
        self.logger = logger
        try:
            try:
                self.source = self._assign(timeout)
            except KafkaUnavailable:  # no topics yet: no Central has run on this broker
                ensure_topics(bootstrap, [self.topic, names.driver_requests()], timeout=timeout)
                self.source = self._assign(timeout)
        except (KafkaException, KafkaUnavailable) as exc:
            raise Unreachable(f"Kafka at {self.bootstrap} is unreachable ({exc})") from exc
        # Per partition: the record consumed last and not yet committed.
        self._uncommitted: dict[int, Message] = {}
        # Per partition: the offset after the last record consumed (catch-up's progress).
        self.positions: dict[int, int] = {}

    def _assign(self, timeout: float) -> AssignedConsumer:
        return AssignedConsumer(self.bootstrap, names.driver_group(self.driver_id), [self.topic],
                                client_id=f"evdriver-{self.driver_id}", timeout=timeout,
                                overrides={"logger": self.logger})

    def poll(self, timeout: float) -> dict | None:
        """The next event of this driver (decoded; handlers validate it), or None when
        nothing came within `timeout` seconds (or sooner, once the stream is idle)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.source.poll(max(0.0, min(0.5, deadline - time.monotonic())))
            if record is None:
                self.commit()  # idle: a good moment to move past skipped records
                return None
            self._uncommitted[record.partition()] = record
            self.positions[record.partition()] = record.offset() + 1
            event = self._decode_ours(record)
            if event is not None:
                return event
            if time.monotonic() >= deadline:
                return None

    def catch_up(self, handle: Callable[[dict], None], timeout: float = 10.0) -> None:
        """Hand every event already waiting (from the committed offsets) to `handle`."""
        try:
            starts, ends = self._offset_window(timeout)
        except (KafkaException, TimeoutError) as exc:
            raise Unreachable(f"Kafka at {self.bootstrap} is unreachable ({exc})") from exc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.positions.get(p, starts[p]) >= end for p, end in ends.items()):
                break
            event = self.poll(0.5)
            if event is not None:
                handle(event)
        # Some brokers report a batch's first offset as the end: drain what is
        # already fetched so a record of that batch is not left for later.
        while time.monotonic() < deadline and (event := self.poll(0.2)) is not None:
            handle(event)

    def broker_reachable(self, timeout: float = 1.0) -> bool:
        try:
            self.source.consumer.list_topics(self.topic, timeout=timeout)
            return True
        except KafkaException:
            return False

    def commit(self) -> None:
        if not self._uncommitted:
            return
        offsets = [TopicPartition(r.topic(), r.partition(), r.offset() + 1)
                   for r in self._uncommitted.values()]
        try:
            self.source.commit_offsets(offsets)
        except KafkaException as exc:
            # Not fatal: the records come again and are de-duplicated.
            log("warning", f"could not commit driver-events offsets: {exc}")
            return
        self._uncommitted.clear()

    def close(self) -> None:
        self.commit()
        self.source.close()

    def _decode_ours(self, record: Message) -> dict | None:
        if record.key() != self.key:
            return None
        try:
            event = evwire.loads(record.value())
        except Exception as exc:  # a damaged record must not stop the driver
            log("warning", f"undecodable record at {record.partition()}/{record.offset()}: {exc}")
            return None
        if not isinstance(event, dict) or event.get("type") not in EVENT_TYPES:
            return None
        if event.get("driver_id", self.driver_id) != self.driver_id:
            return None
        return event

    def _offset_window(self, timeout: float) -> tuple[dict[int, int], dict[int, int]]:
        """Per partition: where this group resumes, and where the topic ends now."""
        consumer = self.source.consumer
        parts = consumer.assignment()
        committed = retry_while_coordinator_settles(
            lambda: consumer.committed(parts, timeout=timeout), timeout)
        starts = {tp.partition: tp.offset for tp in committed}
        ends = end_offsets(self.bootstrap, parts, OffsetSpec.latest(), timeout, self.logger)
        earliest = end_offsets(self.bootstrap, parts, OffsetSpec.earliest(), timeout,
                               self.logger)
        return {p: max(starts.get(p, -1), earliest[p]) for p in ends}, ends


def end_offsets(bootstrap: str, parts: list[TopicPartition], spec: OffsetSpec,
                timeout: float, logger: logging.Logger) -> dict[int, int]:
    """Offsets of `parts` (one admin request; per-partition watermark queries are slow)."""
    request = {TopicPartition(tp.topic, tp.partition): spec for tp in parts}
    # The client must outlive the futures: they never resolve otherwise.
    client = AdminClient(admin_config(bootstrap, logger=logger))
    futures = client.list_offsets(request, request_timeout=timeout)
    return {tp.partition: future.result(timeout + 1).offset for tp, future in futures.items()}
