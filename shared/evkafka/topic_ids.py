"""Whether the topics a consumer reads are still the ones it was assigned.

A topic deleted and created again (by an operator, or by a broker that restarted
without its state, like the local in-memory broker) gets a new topic id and
starts again at offset 0. A consumer's positions in the old topic mean nothing
there: it waits for offsets the new topic will reach only much later, and the
records before them are never read. librdkafka does not notice (the broker does
not answer OFFSET_OUT_OF_RANGE for an offset a little past the end), so the
consumer asks for the topic ids now and then (evkafka.client.AssignedConsumer).
"""
from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient

SAME, MISSING, REPLACED, UNKNOWN = "same", "missing", "replaced", "unknown"

_GONE = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC,
                   KafkaError.UNKNOWN_TOPIC_ID})


def topic_ids(client: AdminClient, topics: list[str], timeout: float) -> dict[str, str] | None:
    """{topic: id} as the cluster has them; None if the cluster did not answer.
    A topic that does not exist has the id ""."""
    ids: dict[str, str] = {}
    try:
        futures = client.describe_topics(TopicCollection(topics), request_timeout=timeout)
        for topic, future in futures.items():
            try:
                ids[topic] = str(future.result(timeout).topic_id)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if not isinstance(err, KafkaError) or err.code() not in _GONE:
                    return None
                ids[topic] = ""
    except (KafkaException, TimeoutError, RuntimeError):
        return None
    return ids


def compare(assigned: dict[str, str], now: dict[str, str] | None) -> str:
    if now is None:
        return UNKNOWN  # the cluster did not answer: nothing to conclude
    if any(not now.get(topic) for topic in assigned):
        return MISSING
    if any(now[topic] != assigned[topic] for topic in assigned):
        return REPLACED
    return SAME
