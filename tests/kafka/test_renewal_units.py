"""evkafka.renewal and evkafka.topic_ids: when a producer is replaced, when topics are
read again (the pure rules; the processes are tested against a restarted broker in
tests/central/test_broker_restart.py and tests/monitor/test_kafka_broker_restart.py)."""
from __future__ import annotations

from confluent_kafka import KafkaError

from evkafka.renewal import ProgressWatch, lost_producer_state
from evkafka.topic_ids import MISSING, REPLACED, SAME, UNKNOWN, compare


def test_only_errors_that_lose_the_producer_state_call_for_a_new_producer():
    for code in (KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, KafkaError.UNKNOWN_PRODUCER_ID,
                 KafkaError.PRODUCER_FENCED, KafkaError._FATAL):
        assert lost_producer_state(KafkaError(code)), code
    for code in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT,
                 KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._MSG_TIMED_OUT):
        assert not lost_producer_state(KafkaError(code)), code
    assert not lost_producer_state(None)
    assert lost_producer_state(KafkaError(KafkaError._TRANSPORT, "x", fatal=True))


def test_a_producer_is_stuck_only_with_records_outstanding_and_no_report_for_long():
    now = [100.0]
    watch = ProgressWatch(stuck_after=10.0, clock=lambda: now[0])
    now[0] = 200.0
    assert not watch.stuck(0)  # nothing outstanding: never stuck, and the wait restarts
    now[0] = 209.0
    assert not watch.stuck(5)
    now[0] = 210.0
    assert watch.stuck(5)
    watch.progressed()  # a delivery report
    assert not watch.stuck(5)


def test_topic_ids_compared():
    assigned = {"a": "id1", "b": "id2"}
    assert compare(assigned, {"a": "id1", "b": "id2"}) == SAME
    assert compare(assigned, {"a": "id1", "b": "id9"}) == REPLACED
    assert compare(assigned, {"a": "", "b": "id2"}) == MISSING
    assert compare(assigned, None) == UNKNOWN
