"""Producer loop: outbox rows -> Kafka `cp-events` (key = cp_id, value = Engine payload
signed with this CP's secret).

Each record carries `mac` (evwire.auth.sign_record: HMAC-SHA256 with the CP
secret over the canonical CBOR of the message without `mac`), added here at
produce time: the outbox keeps the Engine's exact payload, so a secret
rotated while records wait signs them with the new one. Central believes a
cp-events record only if its mac verifies (hub/evcentral/record_check.py).

Rows are produced in outbox order, at most `in_flight` unconfirmed at a
time, and deleted only from the broker's delivery report. The idempotent
producer (acks=all, never times a record out) keeps them in order across
broker outages; whatever is unconfirmed when the Monitor stops stays in the
outbox and is replayed, in order, at the next start. A producer that can no
longer deliver (a broker that restarted without its producer state: see
evkafka.renewal) is replaced by a new one, which resends the outbox from its
oldest row, in order; Central absorbs the duplicates by message_id.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from evkafka import names
from evkafka.client import DEFAULT_PARTITIONS, admin_config, make_producer
from evkafka.logs import RepeatLimiter
from evkafka.renewal import OutageWatch, ProgressWatch, lost_producer_state
from evmonitor.outbox import Outbox, OutboxError, Row
from evwire import dumps, loads
from evwire.auth import sign_record
from evwire.errors import WireError
from evwire.trace import log

BUSY_POLL_S = 0.01
IDLE_POLL_S = 0.5
TOPIC_RETRY_S = 1.0
TOPIC_TIMEOUT_S = 3.0
# The broker counts as connected only while it answers: a delivery report or a
# metadata round-trip within STALE_S. An open socket proves nothing (a frozen or
# wedged broker keeps its connections open and librdkafka reports no error for a
# minute). With nothing delivered lately a metadata probe asks every PROBE_EVERY_S.
STALE_S = 6.0
PROBE_EVERY_S = 2.0
PROBE_TIMEOUT_S = 2.0


class KafkaForwarder:
    def __init__(self, outbox: Outbox, bootstrap: str, cp_id: str, in_flight: int = 1000,
                 secret: str = ""):
        self.outbox = outbox
        self.bootstrap = bootstrap
        self.cp_id = cp_id
        self.secret = secret
        self.topic = names.cp_events()
        self.max_in_flight = in_flight
        self.sent_upto = 0  # highest seq handed to the producer (in flight or delivered)
        self.in_flight = 0
        self.delivered = 0
        self.state = "waiting for broker"  # what librdkafka last said (see link_state)
        self.last_answer: float | None = None  # monotonic: last delivery or metadata answer
        self._probing = False
        self._last_probe = 0.0
        self._confirmed: list[int] = []  # appended by delivery callbacks
        self._retry: deque[Row] = deque()
        self._wake = asyncio.Event()
        self._producer = None
        self._generation = 0  # of the producer; reports of a replaced one are stale
        self._renew_reason = ""  # set when the producer must be replaced
        self._progress = ProgressWatch()
        self._outage = OutageWatch()
        self._refusals = RepeatLimiter()  # one line per kind of refusal, not one per record
        self._admin: AdminClient | None = None  # one, reused: a new client per try is noisy
        self._last_error = ""

    def wake(self) -> None:
        """New rows are in the outbox: produce now rather than at the next idle tick."""
        self._wake.set()

    async def run(self) -> None:
        await self._wait_for_topic()
        self._producer = self._new_producer()
        self.state = "connected"
        log("info", f"producing telemetry to {self.topic} at {self.bootstrap}")
        while True:
            self._poll()
            self._settle()
            self._maybe_probe()
            self._maybe_renew()
            self._produce_more()
            self._wake.clear()
            idle = self.in_flight == 0 and not self._retry
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S if idle else BUSY_POLL_S)
            except TimeoutError:
                pass

    def _new_producer(self):
        # librdkafka's own log lines are not journald-style and repeat every reconnect:
        # silence them, error_cb reports each new problem once.
        return make_producer(self.bootstrap, client_id=f"evcharge-monitor-{self.cp_id}",
                             error_cb=self._on_error, log_level=0)

    def _poll(self) -> None:
        try:
            self._producer.poll(0)
        except KafkaException as exc:  # a fatal error surfaces here too
            self._note_lost(exc.args[0] if exc.args else None)

    def _note_lost(self, err: KafkaError | None) -> None:
        if lost_producer_state(err) and not self._renew_reason:
            self._renew_reason = err.str()

    def _maybe_renew(self) -> None:
        """Replace a producer that cannot deliver any more; resend the outbox in order."""
        if not self._renew_reason and self._progress.stuck(self.in_flight) and self.connected():
            self._renew_reason = (f"no delivery report for {self._progress.stuck_after:g} s "
                                  "while the broker answers")
        if not self._renew_reason:
            return
        log("warning", f"Kafka producer replaced ({self._renew_reason}); resending "
                       f"{self.outbox.depth} outbox record(s) from the oldest")
        old, self._producer = self._producer, self._new_producer()
        self._generation += 1
        try:
            old.purge(in_queue=True, in_flight=True, blocking=False)
            old.poll(0)  # its reports are stale now (generation): only deliveries count
        except KafkaException:
            pass  # a fatally failed producer may refuse even this; it is dropped anyway
        self._renew_reason = ""
        self._settle()  # what the old one delivered leaves the outbox first
        self.in_flight = 0
        self._retry.clear()
        self.sent_upto = 0  # from the oldest row still in the outbox
        self._progress.progressed()

    def connected(self) -> bool:
        """The broker answered (delivery or metadata) within STALE_S."""
        return self.last_answer is not None and time.monotonic() - self.last_answer <= STALE_S

    def link_state(self) -> str:
        """The Kafka link as the panel shows it, from the broker's answers."""
        if self.connected():
            return "connected"
        if self.last_answer is None or self.state not in ("connected", "error"):
            return f"not connected ({self.state})"
        # Fixed text, not a counter: a panel piped to a file prints only changes.
        return f"NOT connected: no answer from the broker for over {STALE_S:g} s"

    def _maybe_probe(self) -> None:
        now = time.monotonic()
        if self._probing or now - self._last_probe < PROBE_EVERY_S:
            return
        if self.last_answer is not None and now - self.last_answer < PROBE_EVERY_S:
            return  # deliveries are answering already
        self._probing = True
        self._last_probe = now
        # A daemon thread: list_topics blocks up to its timeout on a silent broker.
        threading.Thread(target=self._probe, daemon=True, name="kafka probe").start()

    def _probe(self) -> None:
        try:
            self._producer.list_topics(self.topic, timeout=PROBE_TIMEOUT_S)
            self.last_answer = time.monotonic()
            self._outage.broker_answered()
        except Exception:  # any failure is the absence of an answer, which is the point
            pass
        finally:
            self._probing = False

    async def _wait_for_topic(self) -> None:
        """Create the topic if missing; the broker may be down for a long time (records wait)."""
        reported = False
        while True:
            done = asyncio.get_running_loop().create_future()
            # A daemon thread, not the default executor: shutdown must never wait for it.
            threading.Thread(target=self._ensure_topic, args=(done,), daemon=True,
                             name="kafka topic check").start()
            error = await done
            if error is None:
                return
            if not reported:
                log("warning", f"Kafka broker at {self.bootstrap} not usable yet ({error}); "
                               f"telemetry waits in the outbox")
                reported = True
            self.state = "waiting for broker"
            await asyncio.sleep(TOPIC_RETRY_S)

    def _ensure_topic(self, done: asyncio.Future) -> None:
        error = None
        try:
            if self._admin is None:
                self._admin = AdminClient(admin_config(self.bootstrap, log_level=0))
            if self.topic not in self._admin.list_topics(timeout=TOPIC_TIMEOUT_S).topics:
                futures = self._admin.create_topics(
                    [NewTopic(self.topic, num_partitions=DEFAULT_PARTITIONS,
                              replication_factor=1)], operation_timeout=TOPIC_TIMEOUT_S)
                for future in futures.values():
                    future.result(TOPIC_TIMEOUT_S)
            self.last_answer = time.monotonic()
        except KafkaException as exc:
            if "already exists" not in str(exc) and "TOPIC_ALREADY_EXISTS" not in str(exc):
                error = str(exc)  # Central (or another Monitor) may have just created it
        except Exception as exc:  # the thread must always answer the waiting loop
            error = f"{type(exc).__name__}: {exc}"
        loop = done.get_loop()
        try:
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(error))
        except RuntimeError:
            pass  # the loop is gone: the Monitor is shutting down

    def _on_error(self, err: KafkaError) -> None:
        self._note_lost(err)
        if self._outage.broker_gone(err) and not self._renew_reason:
            self._renew_reason = "the broker went away; it may come back without its state"
        text = err.str()
        if text != self._last_error:
            self._last_error = text
            log("warning", f"Kafka: {text}")
        self.state = "broker unreachable" if err.code() in (
            KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT) else "error"

    def _on_delivery(self, err: KafkaError | None, row: Row, generation: int) -> None:
        # Called from poll()/flush(), possibly on the flush thread: only record the outcome.
        if generation != self._generation:
            # A replaced producer's report, even a success: from a broker that lost its
            # state it may be false (see evkafka.renewal). Its rows are being resent.
            return
        if err is None:
            self._confirmed.append(row.seq)
            self.last_answer = time.monotonic()
            self._outage.broker_answered()
        self.in_flight -= 1
        self._progress.progressed()
        if err is None:
            return
        self._note_lost(err)
        self._retry.append(row)
        dropped = self._refusals.admit(err.str())
        if dropped is not None:
            more = f" ({dropped} more refused like it)" if dropped else ""
            log("warning", f"Kafka refused {row.kind} id={row.message_id}: {err.str()}; "
                           f"will retry{more}")

    def _settle(self) -> None:
        if not self._confirmed:
            return
        confirmed, self._confirmed = self._confirmed, []
        try:
            self.outbox.delete(confirmed)
        except OutboxError as exc:
            # Delivered but not deleted: they would be sent again after a restart, which
            # Central absorbs (idempotent by message_id / session_id).
            log("error", str(exc))
        self.delivered += len(confirmed)
        if self.state != "connected" and self.in_flight == 0:
            self.state = "connected"

    def _produce_more(self) -> None:
        room = self.max_in_flight - self.in_flight
        if room <= 0:
            return
        batch = [self._retry.popleft() for _ in range(min(room, len(self._retry)))]
        if len(batch) < room:
            fresh = self.outbox.after(self.sent_upto, room - len(batch))
            if fresh:
                self.sent_upto = fresh[-1].seq
            batch.extend(fresh)
        generation = self._generation
        if batch and self.in_flight == 0:
            self._progress.progressed()  # the wait for a report starts now
        for index, row in enumerate(batch):
            try:
                self._producer.produce(self.topic, key=self.cp_id.encode(),
                                       value=self.signed(row),
                                       on_delivery=lambda err, _m, row=row: self._on_delivery(
                                           err, row, generation))
            except (BufferError, KafkaException) as exc:
                # librdkafka's queue is full, or the producer failed for good (renewed
                # at the next round): keep the rest, in order, for the next round.
                self._retry.extendleft(reversed(batch[index:]))
                if isinstance(exc, KafkaException):
                    self._note_lost(exc.args[0] if exc.args else None)
                break
            self.in_flight += 1

    def signed(self, row: Row) -> bytes:
        """The row's payload with its `mac`. A payload that does not decode is sent as it
        is: Central sets it aside as a dead letter, where an operator sees it."""
        try:
            msg = loads(row.payload)
        except (WireError, ValueError, TypeError, IndexError) as exc:
            log("error", f"outbox row {row.kind} id={row.message_id} does not decode ({exc}): "
                         "sent unsigned, Central will set it aside")
            return row.payload
        if not isinstance(msg, dict) or not self.secret:
            return row.payload
        return dumps(sign_record(msg, self.secret))

    async def flush(self, timeout: float) -> int:
        """Wait up to `timeout` s for in-flight records; returns how many stay undelivered."""
        if self._producer is None:
            return self.outbox.depth
        await asyncio.to_thread(self._producer.flush, timeout)
        self._settle()
        return self.outbox.depth
