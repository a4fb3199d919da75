"""A few Kafka producers shared by all simulated charge points.

A real Monitor has its own producer; thousands of librdkafka instances (each
with its own threads and broker connections) would measure the simulator,
not Central. Each charge point always uses the same producer (index modulo
the pool), so its records keep their order on its partition, as the
Monitor's own idempotent producer keeps them. The settings are evkafka's,
the ones the Monitor uses (acks=all, idempotence, linger 5 ms).
"""
from __future__ import annotations

import threading

from confluent_kafka import KafkaError, Message

from evkafka.client import make_producer

POLL_S = 0.05
QUEUE_FULL_RETRIES = 100


class ProducerPool:
    def __init__(self, bootstrap: str, topic: str, count: int, client_prefix: str = "evbench-cp"):
        self.topic = topic
        self.producers = [make_producer(bootstrap, client_id=f"{client_prefix}-{i}")
                          for i in range(max(1, count))]
        self.delivered = 0
        self.failed = 0
        self.refused = 0  # the local queue stayed full: never sent (a simulator limit)
        self.last_error: str | None = None
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll_forever, name="evbench-producers",
                                        daemon=True)
        self._poller.start()

    def produce(self, index: int, key: bytes, value: bytes) -> bool:
        """Queue one record on the producer of charge point `index`; False if refused."""
        producer = self.producers[index % len(self.producers)]
        for _ in range(QUEUE_FULL_RETRIES):
            try:
                producer.produce(self.topic, key=key, value=value, on_delivery=self._on_delivery)
                return True
            except BufferError:
                producer.poll(0.01)
        self.refused += 1
        return False

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        # Runs in the poller thread; += on an int is atomic enough under the GIL
        # for counters only this thread writes.
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.last_error = str(err)

    def _poll_forever(self) -> None:
        while not self._stopping.is_set():
            for producer in self.producers:
                producer.poll(POLL_S / len(self.producers))

    def flush(self, timeout: float) -> int:
        """Wait for every queued record's delivery; returns how many are still pending."""
        return sum(producer.flush(timeout) for producer in self.producers)

    def close(self, timeout: float = 10.0) -> int:
        left = self.flush(timeout)
        self._stopping.set()
        self._poller.join(5)
        self.producers = []  # librdkafka instances go now, not when the broker is gone
        return left
