"""The fallback path to Central: requests on driver-requests, answers on driver-events.

Used when Central's socket cannot be reached (the seed's hybrid mode). Each
request is signed (`mac`, evwire.auth.sign_record with the driver's secret):
Central acts only on records that verify. The
answer is picked out of driver-events by its message_id with a private
consumer that starts at the topic's end and never commits, so it neither
needs nor disturbs the driver's own event group.
"""
from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

import evwire
from evdriver.errors import LinkDown
from evdriver.events import end_offsets
from evkafka import names
from evkafka.client import consumer_config, make_producer
from evwire.auth import sign_record
from evwire.trace import log, trace


class KafkaLink:
    def __init__(self, bootstrap: str, driver_id: str, secret: str, timeout: float,
                 logger: logging.Logger):
        self.bootstrap = bootstrap
        self.driver_id = driver_id
        self._secret = secret
        self.timeout = timeout
        self.logger = logger
        self.producer = make_producer(bootstrap, client_id=f"evdriver-{driver_id}", logger=logger)

    def request(self, msg: dict) -> dict:
        answers = self._answers_consumer()
        try:
            self._produce(msg)
            return self._await_answer(answers, msg["message_id"])
        finally:
            answers.close()

    def _answers_consumer(self) -> Consumer:
        topic = names.driver_events()
        group = names.namespace() + "evcharge-driver-answers-" + self.driver_id
        conf = consumer_config(self.bootstrap, group, f"evdriver-{self.driver_id}")
        conf["logger"] = self.logger
        consumer = Consumer(conf)
        try:
            meta = consumer.list_topics(topic, timeout=self.timeout)
            parts = [TopicPartition(topic, p) for p in sorted(meta.topics[topic].partitions)]
            # Start at the end as it is now, so the answer (produced after this)
            # is read and nothing older than this request needs decoding.
            ends = end_offsets(self.bootstrap, parts, OffsetSpec.latest(), self.timeout,
                               self.logger)
            consumer.assign([TopicPartition(topic, p, ends[p]) for p in sorted(ends)])
        except (KafkaException, KeyError, TimeoutError) as exc:
            consumer.close()
            raise LinkDown(f"Kafka at {self.bootstrap} is unreachable ({exc})") from exc
        return consumer

    def _produce(self, msg: dict) -> None:
        signed = sign_record(dict(msg), self._secret)  # the caller's msg stays unsigned
        self.producer.produce(names.driver_requests(), key=self.driver_id.encode(),
                              value=evwire.dumps(signed))
        if self.producer.flush(self.timeout) > 0:
            raise LinkDown(f"Kafka at {self.bootstrap} did not take the request "
                           f"within {self.timeout:g} s")
        trace("send", msg, "(kafka)")

    def _await_answer(self, answers: Consumer, message_id: str) -> dict:
        key = self.driver_id.encode()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            record = answers.poll(0.2)
            if record is None or record.error() or record.key() != key:
                continue
            try:
                answer = evwire.loads(record.value())
            except Exception as exc:  # a foreign or damaged record: not ours to judge
                log("warning", f"undecodable record on {record.topic()}: {exc}")
                continue
            if isinstance(answer, dict) and answer.get("message_id") == message_id:
                trace("recv", answer, "(kafka)")
                return answer
        raise LinkDown(f"Central did not answer on Kafka within {self.timeout:g} s")

    def close(self) -> None:
        self.producer.flush(1.0)
