"""Central's Kafka bridge: records in from a consumer thread, records out with
delivery reports, both handed to and from the asyncio loop.

confluent-kafka blocks, so consumption runs in its own thread. Each batch is
handed to the loop (run_coroutine_threadsafe) and the thread waits until the
loop has stored its effects and seen every delivery report of what it
produced; only then are the offsets committed. A poison record is the
handler's business (it dead-letters that record and goes on); what reaches
the bridge as a failure is transient (database busy, broker away), so the same
batch is retried with bounded exponential back-off, never skipped; the
handler skips the records it already handled in an earlier attempt. A second thread
polls the producer so delivery reports arrive without delay; the reports of
one poll round are handed to the loop together (one wake-up of the loop per
round, not one per record: at thousands of records a second the wake-ups
alone cost a good part of a core). The delivery thread never dies of a Kafka
error: a producer that cannot deliver any more (evkafka.renewal) is replaced;
what the old one held is purged, its futures fail, and their owners produce
again (a batch is retried, a ticket resent) through the new one.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from evkafka.client import AssignedConsumer, ensure_topics, make_producer
from evkafka.group import GroupConsumer
from evkafka.names import all_topics
from evkafka.renewal import OutageWatch, ProgressWatch, lost_producer_state
from evwire.trace import log

RETRY_DELAY_S = 1.0
# Back-off of a batch whose handling failed (transient): doubles up to the maximum.
BATCH_RETRY_FIRST_S = 0.05
BATCH_RETRY_MAX_S = 5.0
# A batch is handed to the loop when it is full or after this wait: short, so that
# under light load a record does not sit waiting for others to fill the batch.
BATCH_WAIT_S = 0.02
# Central produces two driver-events records per charging_data it consumes (the
# record and a charging_status_update): at thousands a second, 20 ms of batching
# instead of evkafka's 5 ms makes a quarter of the produce requests, which halves
# the local broker's CPU at the cost of 15 ms on the way to the driver.
PRODUCER_LINGER_MS = 20
PRODUCE_QUEUE_RETRIES = 200
# A stuck producer is replaced only if the broker answers a metadata request this fast.
ALIVE_PROBE_S = 2.0


class DeliveryError(Exception):
    """The broker refused a record for good (not a transient outage)."""


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


BatchHandler = Callable[[list[Record]], Awaitable[None]]


class KafkaBridge:
    def __init__(self, bootstrap: str, topics_in: list[str], group: str,
                 batch_size: int = 500, shared_group: bool = False,
                 member: str | None = None):
        self.bootstrap = bootstrap
        self.topics_in = topics_in
        self.group = group
        # Several Centrals (evcentral.cluster): the group divides the partitions between
        # them (evkafka.group); one Central alone reads them all (AssignedConsumer).
        self.shared_group = shared_group
        self.member = member
        self.batch_size = batch_size
        # Swapped by the delivery thread when it renews the producer; the lock keeps a
        # produce() from landing on a producer after it was purged.
        self._producer_lock = threading.Lock()
        self._renew_reason = ""
        self._generation = 0  # of the producer: reports of a replaced one change nothing
        self._progress = ProgressWatch()
        self._outage = OutageWatch()
        self._outage_probe_at = 0.0
        self.producer = self._new_producer()
        self.producers_renewed = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connected = asyncio.Event()
        self._reports: deque[tuple[asyncio.Future, KafkaError | None]] = deque()
        # Set at shutdown: the consumer takes no new batch (the one in hand is finished
        # until _drain_deadline); the delivery thread polls on until _delivery_done, so
        # that batch's delivery reports still arrive.
        self._stopping = threading.Event()
        self._delivery_done = threading.Event()
        self._drain_deadline = 0.0
        self._consumer: threading.Thread | None = None
        self._delivery: threading.Thread | None = None
        self.records_in = 0
        self.records_out = 0
        self.batch_retries = 0

    # -- producing (call from the loop thread) --------------------------------
    def publish(self, topic: str, key: str, value: bytes, wait: bool = True) -> asyncio.Future:
        """Produce one record; the future resolves on its delivery report.

        With the local queue full (the broker away for long) a record that must not be
        lost waits for room (bounded); a best-effort one (wait=False: the cp-status
        feed, superseded by the next change anyway) fails at once, so that a side
        channel never holds up the loop."""
        assert self.loop is not None, "start() first"
        future = self.loop.create_future()
        reports = self._reports

        generation = self._generation  # set again under the lock, with the producer used

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            reports.append((future, err))  # handed to the loop by _hand_over
            if generation == self._generation:  # not a replaced producer's purged record
                self._progress.progressed()
                self._note_error(err)
                if err is None:
                    self._outage.broker_answered()

        for _attempt in range(PRODUCE_QUEUE_RETRIES):
            try:
                with self._producer_lock:
                    generation = self._generation
                    self.producer.produce(topic, key=key.encode(), value=value,
                                          on_delivery=delivered)
                self.records_out += 1
                return future
            except BufferError:
                if not wait:
                    break
                # The local queue is full (broker away for long): let it drain a little.
                time.sleep(0.05)  # the delivery thread polls meanwhile
            except KafkaException as exc:  # failed for good: renewed by the delivery thread
                self._note_error(exc.args[0] if exc.args else None)
                future.set_exception(DeliveryError(f"record for {topic} refused: {exc}"))
                return future
        future.set_exception(DeliveryError(f"producer queue full, record for {topic} refused"))
        return future

    def _new_producer(self):
        return make_producer(self.bootstrap, client_id="evcharge-central",
                             error_cb=self._note_error, **{"linger.ms": PRODUCER_LINGER_MS})

    def _note_error(self, err: KafkaError | None) -> None:
        if lost_producer_state(err) and not self._renew_reason:
            self._renew_reason = err.str()
        elif self._outage.broker_gone(err) and not self._renew_reason:
            self._renew_reason = "the broker went away; it may come back without its state"

    # -- lifecycle -------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop, handler: BatchHandler) -> None:
        self.loop = loop
        # Daemon threads: one stuck in librdkafka (a broker that does not answer) must
        # not hold the process past its shutdown budget.
        self._delivery = threading.Thread(target=self._deliver_forever, name="kafka-delivery",
                                          daemon=True)
        self._consumer = threading.Thread(target=lambda: self._consume_forever(handler),
                                          name="kafka-consumer", daemon=True)
        self._delivery.start()
        self._consumer.start()

    async def stop(self, flush_timeout: float = 5.0) -> None:
        await self.stop_consuming(flush_timeout)
        await self.stop_producing(flush_timeout)

    async def stop_consuming(self, timeout: float) -> None:
        """Take no new batch; finish the one being handled (effects stored, offsets
        committed) if that takes less than timeout, else leave it uncommitted: it comes
        again after a restart, and its effects are idempotent."""
        if not self.connected.is_set():
            timeout = 0.1  # never reached the broker: no batch in hand, nothing to wait for
        self._drain_deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._consumer is not None:
            await asyncio.to_thread(self._consumer.join, timeout + 0.5)
            if self._consumer.is_alive():
                log("warning", f"kafka: the consumer did not stop within {timeout:g} s "
                               "(the broker is slow or away); what it did not commit comes "
                               "again after a restart")

    async def stop_producing(self, timeout: float) -> None:
        """Deliver what was produced (up to timeout), settle the reports, stop polling."""
        self._stopping.set()
        self._delivery_done.set()
        if self._delivery is not None:  # one thread polls the producer at a time
            await asyncio.to_thread(self._delivery.join, 1.0)
        left = await asyncio.to_thread(self.producer.flush, max(0.0, timeout))
        self._hand_over()
        if left:
            log("warning", f"kafka: {left} record(s) not delivered at shutdown")

    # -- threads ----------------------------------------------------------------
    def _deliver_forever(self) -> None:
        while not self._delivery_done.is_set():
            try:
                self.producer.poll(0.05)
            except KafkaException as exc:  # a fatal error surfaces here: renew below
                self._note_error(exc.args[0] if exc.args else None)
            except Exception as exc:  # never let the thread die: tickets depend on it
                log("error", f"kafka: delivery poll failed ({exc!r}); polling on")
                time.sleep(RETRY_DELAY_S)
            self._hand_over()
            if self._renew_reason or self._stuck():
                self._renew()
                self._hand_over()
            self._maybe_probe_after_outage()

    def _maybe_probe_after_outage(self) -> None:
        """After an outage's renewal, ask the broker now and then until it answers: only
        then may the next outage renew the producer again (OutageWatch)."""
        now = time.monotonic()
        if not self._outage.waiting_for_answer or now - self._outage_probe_at < ALIVE_PROBE_S:
            return
        self._outage_probe_at = now
        try:
            self.producer.list_topics(timeout=0.5)
            self._outage.broker_answered()
        except Exception:  # still away: ask again later
            pass

    def _stuck(self) -> bool:
        """Records outstanding, no report for long, yet the broker answers (renewal doc)."""
        if not self._progress.stuck(len(self.producer)):
            return False
        try:
            self.producer.list_topics(timeout=ALIVE_PROBE_S)
        except Exception:  # the broker is away: the producer resumes by itself when it is back
            self._progress.progressed()  # ask again after another STUCK_S, not at once
            return False
        self._renew_reason = (f"no delivery report for {self._progress.stuck_after:g} s "
                              "while the broker answers")
        return True

    def _renew(self) -> None:
        """Replace the producer; fail what the old one held so that its owners resend."""
        reason, old = self._renew_reason, self.producer
        with self._producer_lock:
            self.producer = self._new_producer()
            self._generation += 1
            self._renew_reason = ""
        self.producers_renewed += 1
        held = len(old)
        log("warning", f"kafka: producer replaced ({reason}); {held} record(s) it held "
                       "are produced again")
        try:
            old.purge(in_queue=True, in_flight=True, blocking=False)
            old.poll(0)  # their delivery reports (purged: failed) settle the futures
        except Exception as exc:  # a fatally failed producer may refuse even this
            log("warning", f"kafka: the replaced producer could not be purged ({exc})")
        self._progress.progressed()

    def _hand_over(self) -> None:
        """Settle the futures of every delivery report so far, in one loop callback."""
        if not self._reports or self.loop is None:
            return
        settled = []
        while self._reports:  # deque pops are thread-safe; reports may still be arriving
            settled.append(self._reports.popleft())
        try:
            self.loop.call_soon_threadsafe(_settle_all, settled)
        except RuntimeError:  # the loop is closed: Central is exiting, nobody awaits these
            pass

    def _connect(self) -> AssignedConsumer | GroupConsumer:
        attempt = 0
        while not self._stopping.is_set():
            try:
                ensure_topics(self.bootstrap, all_topics(), timeout=5.0)
                consumer: AssignedConsumer | GroupConsumer
                if self.shared_group:
                    consumer = GroupConsumer(self.bootstrap, self.group, self.topics_in,
                                             client_id="evcharge-central",
                                             member=self.member)
                else:
                    consumer = AssignedConsumer(self.bootstrap, self.group, self.topics_in,
                                                client_id="evcharge-central", timeout=5.0)
                log("info", f"kafka ready: broker {self.bootstrap}, consuming "
                            f"{', '.join(self.topics_in)} as group {self.group}")
                assert self.loop is not None
                self.loop.call_soon_threadsafe(self.connected.set)
                return consumer
            except (KafkaException, RuntimeError) as exc:
                attempt += 1
                log("warning", f"kafka: broker {self.bootstrap} not usable yet ({exc}); "
                               f"retry {attempt} in {RETRY_DELAY_S:g} s")
                self._stopping.wait(RETRY_DELAY_S)
        raise _Stopped()

    def _consume_forever(self, handler: BatchHandler) -> None:
        while not self._stopping.is_set():
            try:
                consumer = self._connect()
            except _Stopped:
                return
            try:
                self._consume(consumer, handler)
            except KafkaException as exc:
                # Uncommitted records come again after reconnecting; effects are idempotent.
                log("error", f"kafka consumer failed ({exc}); reconnecting in "
                             f"{RETRY_DELAY_S:g} s")
                self._stopping.wait(RETRY_DELAY_S)
            finally:
                consumer.close()

    def _consume(self, consumer: AssignedConsumer | GroupConsumer,
                 handler: BatchHandler) -> None:
        while not self._stopping.is_set():
            messages = consumer.consume(self.batch_size, timeout=BATCH_WAIT_S)
            if not messages:
                continue
            batch = [Record(m.topic(), m.partition(), m.offset(), m.key(), m.value())
                     for m in messages]
            if not self._run_until_stored(handler, batch):
                return
            try:
                consumer.commit_offsets(_next_offsets(batch))
            except KafkaException as exc:
                # Stored but not committed: a later commit covers it, or the records
                # come again after a restart and change nothing.
                log("warning", f"kafka: offset commit failed ({exc}); continuing")
            self.records_in += len(batch)

    def _run_until_stored(self, handler: BatchHandler, batch: list[Record]) -> bool:
        """True once the loop stored the batch's effects; False if stopping first."""
        assert self.loop is not None
        delay = BATCH_RETRY_FIRST_S
        while not self._stopping.is_set():
            done = asyncio.run_coroutine_threadsafe(handler(batch), self.loop)
            while True:
                try:
                    done.result(timeout=0.5)
                    return True
                except TimeoutError:
                    if self._stopping.is_set() and time.monotonic() >= self._drain_deadline:
                        # Shutting down and out of time: nothing of this batch is
                        # committed, so it comes again after a restart (idempotent).
                        done.cancel()
                        return False
                except CancelledError:  # the loop is shutting down: nothing was committed
                    return False
                except Exception as exc:  # transient: the batch is retried, never skipped
                    self.batch_retries += 1
                    log("warning", f"kafka: handling {len(batch)} record(s) failed ({exc!r}); "
                                   f"retrying in {delay:g} s without committing")
                    self._stopping.wait(delay)
                    delay = min(delay * 2, BATCH_RETRY_MAX_S)
                    break
        return False


class _Stopped(Exception):
    pass


def _settle_all(settled: list[tuple[asyncio.Future, KafkaError | None]]) -> None:
    for future, err in settled:
        _settle(future, err)


def _settle(future: asyncio.Future, err: KafkaError | None) -> None:
    if future.done():
        return
    if err is None:
        future.set_result(None)
    else:
        future.set_exception(DeliveryError(str(err)))


def _next_offsets(batch: list[Record]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for rec in batch:
        last[(rec.topic, rec.partition)] = max(last.get((rec.topic, rec.partition), -1),
                                               rec.offset)
    return [TopicPartition(topic, part, offset + 1) for (topic, part), offset in last.items()]
