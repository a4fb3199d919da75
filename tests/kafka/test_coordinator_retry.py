"""retry_while_coordinator_settles: the fix for Apache Kafka's coordinator after a restart.

The real case (NOT_COORDINATOR right after the broker restarts) runs in
test_outage.py against Apache Kafka; these pin the retry rule itself.
"""
from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException

from evkafka import client


class Flaky:
    """An operation failing with `errors` (KafkaError codes) in turn, then returning 'done'."""

    def __init__(self, *errors: int):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return "done"


@pytest.mark.parametrize("code", sorted(client.COORDINATOR_SETTLING))
def test_settling_coordinator_is_retried(code):
    operation = Flaky(code, code)
    assert client.retry_while_coordinator_settles(operation, timeout=10) == "done"
    assert operation.calls == 3


def test_other_errors_are_raised_at_once():
    operation = Flaky(KafkaError.UNKNOWN_MEMBER_ID, KafkaError.NOT_COORDINATOR)
    with pytest.raises(KafkaException) as raised:
        client.retry_while_coordinator_settles(operation, timeout=10)
    assert raised.value.args[0].code() == KafkaError.UNKNOWN_MEMBER_ID
    assert operation.calls == 1


def test_a_coordinator_that_never_settles_is_raised_after_the_timeout():
    operation = Flaky(*[KafkaError.COORDINATOR_LOAD_IN_PROGRESS] * 1000)
    started = time.monotonic()
    with pytest.raises(KafkaException) as raised:
        client.retry_while_coordinator_settles(operation, timeout=0.5)
    assert raised.value.args[0].code() == KafkaError.COORDINATOR_LOAD_IN_PROGRESS
    assert 2 <= operation.calls < 1000
    assert time.monotonic() - started < 10
