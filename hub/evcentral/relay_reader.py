"""Reads the central-relay topic for this Central (evcentral.relay), in its own thread.

Every partition from its end at start-up: a request older than this Central's start
was meant for a process that is gone (its asker has given up after
RELAY_TIMEOUT_S), so nothing is committed and nothing read again. Only records
keyed with this Central's id are handed to the loop; the others are skipped
unread.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from evkafka.client import admin, consumer_config, ensure_topics
from evwire.trace import log

RETRY_S = 1.0


class RelayReader:
    def __init__(self, bootstrap: str, topic: str, central_id: str,
                 deliver: Callable[[bytes], None]):
        self.bootstrap = bootstrap
        self.topic = topic
        self.key = central_id.encode()
        self.deliver = deliver
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Set once every partition is assigned at a known offset: an answer produced
        # after that is read (an OFFSET_END resolved later could skip it).
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._thread = threading.Thread(target=self._run, name="evcentral-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _connect(self) -> Consumer:
        ensure_topics(self.bootstrap, [self.topic], timeout=5.0)
        partitions = admin(self.bootstrap).list_topics(self.topic, timeout=5.0) \
            .topics[self.topic].partitions
        # Its own group id, never committed: the group only names this reader.
        consumer = Consumer(consumer_config(self.bootstrap, f"{self.topic}.{self.key.decode()}",
                                            "evcharge-central-relay"))
        try:
            ends = [consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=5.0)[1]
                    for p in partitions]
            consumer.assign([TopicPartition(self.topic, p, end)
                             for p, end in zip(partitions, ends)])
        except BaseException:
            consumer.close()
            raise
        self.ready.set()
        return consumer

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                consumer = self._connect()
            except (KafkaException, RuntimeError, KeyError) as exc:
                log("warning", f"central-relay: not readable yet ({exc}); retrying")
                self._stop.wait(RETRY_S)
                continue
            try:
                while not self._stop.is_set():
                    for msg in consumer.consume(100, 0.2):
                        if not msg.error() and msg.key() == self.key and self.loop is not None:
                            self.loop.call_soon_threadsafe(self.deliver, msg.value())
            except KafkaException as exc:
                log("warning", f"central-relay: reading failed ({exc}); reconnecting")
            finally:
                consumer.close()
