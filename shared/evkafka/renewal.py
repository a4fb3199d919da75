"""When an idempotent producer can no longer deliver, and a new one must take over.

An idempotent producer's records carry a producer id and per-partition sequence
numbers that the broker remembers. A broker that comes back without that memory
(the local broker keeps it in RAM; a cluster that lost its state) answers
UNKNOWN_PRODUCER_ID or OUT_OF_ORDER_SEQUENCE_NUMBER. librdkafka then either raises
a fatal error (the producer is unusable for good) or, for an unknown id, bumps its
epoch and resends the same batch forever without a single delivery report or
error callback (seen with librdkafka 2.x against the restarted local broker).

Worse, such a broker hands out producer ids again from the start: an old producer's
id may now be a new producer's, and its records, taken as duplicates of that one's,
are dropped with a success report (tests/kafka/test_renewal.py shows it). So a
producer that saw its broker go away is replaced before the broker is back.

Either way, the only way on is a new producer that resends what was not confirmed:
duplicates are possible and absorbed downstream (Central by message_id, drivers by
session id); losses are not. Three signals call for it:

- every broker of the producer gone (OutageWatch: once per outage, right away, so
  that nothing the old one holds reaches a broker that may have forgotten it),
- an error that says the producer's state is gone (lost_producer_state), and
- records outstanding with no delivery report at all for STUCK_S while the broker
  answers metadata requests (ProgressWatch): a broker that is merely down does not
  answer, and its producer is left alone to resume by itself.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import KafkaError

# Long against a healthy broker (deliveries take milliseconds; a leader election a
# few seconds), short against a person waiting for a ticket.
STUCK_S = 10.0

_STATE_LOST = frozenset({
    KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
    KafkaError.UNKNOWN_PRODUCER_ID,
    KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError.INVALID_PRODUCER_ID_MAPPING,
    KafkaError.PRODUCER_FENCED,
    KafkaError._FENCED,
    KafkaError._FATAL,
})


def lost_producer_state(err: KafkaError | None) -> bool:
    """True when no retry by this producer can deliver any more: renew it."""
    if err is None:
        return False
    return err.fatal() or err.code() in _STATE_LOST


class OutageWatch:
    """Whether this error starts an outage for which the producer is not renewed yet."""

    def __init__(self) -> None:
        self._renewed = False

    def broker_gone(self, err: KafkaError | None) -> bool:
        if err is None or err.code() != KafkaError._ALL_BROKERS_DOWN or self._renewed:
            return False
        self._renewed = True  # the new producer's own "all brokers down" changes nothing
        return True

    def broker_answered(self) -> None:
        self._renewed = False

    @property
    def waiting_for_answer(self) -> bool:
        """Renewed for an outage, and no answer from the broker since."""
        return self._renewed


class ProgressWatch:
    """Whether a producer with records outstanding has gone quiet for too long."""

    def __init__(self, stuck_after: float = STUCK_S,
                 clock: Callable[[], float] = time.monotonic):
        self.stuck_after = stuck_after
        self.clock = clock
        self._progress_at = clock()

    def progressed(self) -> None:
        """A delivery report arrived, or nothing was outstanding."""
        self._progress_at = self.clock()

    def stuck(self, outstanding: int) -> bool:
        if outstanding <= 0:
            self.progressed()
            return False
        return self.clock() - self._progress_at >= self.stuck_after
