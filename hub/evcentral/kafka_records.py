"""Records Central consumes from Kafka: telemetry from cp-events, requests from
driver-requests. Runs on the asyncio loop, one batch at a time.

A batch returns only when its effects are stored and its tickets and dead
letters are delivered; the bridge commits offsets after that. Every record is
checked first (record_check.py: decodes, validates, key = sender, `mac`
verifies, session exists and is the sender's); one that fails, or whose
handler raises, is dead-lettered (dead_letters.py) and the batch goes on: a
poison record costs that record. A transient failure (database busy, broker
away) fails the batch, which the bridge retries with back-off (the same
batch); records handled in an earlier attempt are remembered per partition
and not handled (nor published to drivers) again. A large batch lets the loop serve the
sockets between slices of it.
Driver requests go through the same boundary as socket ones and are answered
on driver-events, keyed by driver id, but only once they verify: an unsigned
request could name any driver.
"""
from __future__ import annotations

import asyncio

from confluent_kafka import KafkaException

from evcentral.boundary import ROLE_DRIVER, Router, dispatch
from evcentral.config import Hub
from evcentral.dead_letters import DeadLetters
from evcentral.record_check import RecordCheck, Rejected, SecretUnreadable, decode
from evcentral.store.errors import TRANSIENT_ERRORS
from evcentral.telemetry import DeliveryError, KafkaBridge, Record
from evkafka import names
from evwire import dumps, error_response, failure
from evwire import types as t
from evwire.compat import unix_time
from evwire.dispatch import Dispatcher
from evwire.errors import WireError
from evwire.schema import validate
from evwire.trace import log, trace

TELEMETRY_TYPES = (t.CHARGING_DATA, t.CHARGE_COMPLETION)
SLICE = 100  # records handled before the loop serves other work again
# Failures that pass: the batch is retried (with back-off), the record is not poison.
TRANSIENT = (*TRANSIENT_ERRORS, DeliveryError, KafkaException, SecretUnreadable)


class TelemetryHandlers:
    """cp-events records; each returns the deliveries it started."""

    def __init__(self, hub: Hub):
        self.sessions = hub.sessions

    async def charging_data(self, msg: dict, raw: bytes) -> list[asyncio.Future]:
        return self.sessions.charging_data(msg, raw)

    async def charge_completion(self, msg: dict, raw: bytes) -> list[asyncio.Future]:
        self.sessions.flush_live()  # earlier samples of this batch first
        await self.sessions.charge_completion(msg, raw)
        return []


class KafkaReplyChannel:
    """A driver request that came by Kafka: replies go to driver-events."""

    origin = "kafka"
    retries = True  # a transient failure re-raises: the batch is retried (boundary.dispatch)

    def __init__(self, bridge: KafkaBridge, driver_id: str):
        self.bridge = bridge
        self.driver_id = driver_id
        self.role: str | None = ROLE_DRIVER
        self.cp_id: str | None = None
        self.last_message = 0.0
        self.deliveries: list[asyncio.Future] = []
        self.sent: list[dict] = []

    def send(self, msg: dict) -> bool:
        trace("send", msg)
        self.sent.append(msg)
        self.deliveries.append(self.bridge.publish(names.driver_events(), self.driver_id,
                                                   dumps(msg)))
        return True

    def close(self, reason: str) -> None:
        """Nothing to close on a topic."""


class KafkaRecords:
    def __init__(self, hub: Hub, router: Router, bridge: KafkaBridge):
        self.hub = hub
        self.router = router
        self.bridge = bridge
        self.telemetry = Dispatcher(TelemetryHandlers(hub), TELEMETRY_TYPES)
        self.check = RecordCheck(hub)
        self.dead = DeadLetters(hub.db, bridge.publish)
        self.cp_events = names.cp_events()
        self.driver_requests = names.driver_requests()
        # (topic, partition) -> highest offset of the current batch already handled: when
        # the bridge retries the batch after a transient failure, those are skipped (their
        # publishes are not repeated). Per batch, not per process: a broker that lost its
        # topics hands out the same offsets again, and those records are new.
        self.handled: dict[tuple[str, int], int] = {}
        self._batch: list[Record] | None = None
        # Driver-events deliveries of the batch so far (kept across its retries).
        self.deliveries: list[asyncio.Future] = []

    async def handle_batch(self, records: list[Record]) -> None:
        if records is not self._batch:  # a new batch, not the retry of the last one
            self._batch, self.handled = records, {}
        for i, rec in enumerate(records):
            if i and i % SLICE == 0:
                await asyncio.sleep(0)
            part = (rec.topic, rec.partition)
            if rec.offset <= self.handled.get(part, -1):
                continue
            self.deliveries += await self._one(rec)
            self.handled[part] = rec.offset
        self.hub.sessions.flush_live()
        self.dead.send_pending()
        await asyncio.gather(self._send_tickets(), self.dead.settle(), self._deliveries())

    async def _one(self, rec: Record) -> list[asyncio.Future]:
        """Handle one record; a permanent failure dead-letters it, a transient one raises."""
        try:
            if rec.topic == self.cp_events:
                return await self._telemetry(rec)
            if rec.topic == self.driver_requests:
                return await self._driver_request(rec)
            return []
        except Rejected as exc:
            self.dead.add(rec, str(exc))
        except TRANSIENT:
            raise
        except Exception as exc:  # a handler bug or a value no check foresaw: that record only
            log("error", f"handling {rec.topic}[{rec.partition}]@{rec.offset} failed: {exc!r}")
            self.dead.add(rec, f"handler failed: {type(exc).__name__}: {exc}")
        return []

    async def _deliveries(self) -> None:
        """Records published to drivers: awaited (so a commit implies delivery), a failure
        logged, never published again (the next sample supersedes a lost one)."""
        pending, self.deliveries = self.deliveries, []
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, Exception):
                log("error", f"driver event not delivered: {result}")

    async def _send_tickets(self) -> None:
        """Tickets of the completions this batch finalised: published together, then the
        delivered ones marked sent in one transaction. One that fails stays due and
        fails the batch: the retry sends it (and only it) again."""
        sessions = self.hub.sessions
        due = list(sessions.tickets_due.values())
        sessions.tickets_due.clear()
        sending = []
        for final in due:
            ticket = sessions.store.ticket(final.session_id)
            if ticket is not None:
                sending.append((final, self.bridge.publish(names.driver_events(),
                                                           final.driver_id, ticket)))
        results = await asyncio.gather(*(future for _s, future in sending),
                                       return_exceptions=True)
        delivered = [s for (s, _f), r in zip(sending, results) if not isinstance(r, Exception)]
        for (final, _f), result in zip(sending, results):
            if isinstance(result, Exception):
                sessions.tickets_due[final.session_id] = final
        sessions.store.mark_tickets_sent([s.session_id for s in delivered])
        for final in delivered:
            log("info", f"ticket of session {final.session_id} delivered to {final.driver_id}")
        for result in results:
            if isinstance(result, Exception):
                raise result

    async def _telemetry(self, rec: Record) -> list[asyncio.Future]:
        msg = decode(rec)
        try:
            handler = self.telemetry.resolve(msg)
        except WireError as exc:
            raise Rejected(f"invalid: {exc}") from None
        self.check.cp_event(rec, msg)
        trace("enter", msg)
        deliveries = await handler(msg, rec.value)
        trace("exit", msg)
        return deliveries

    async def _driver_request(self, rec: Record) -> list[asyncio.Future]:
        msg = decode(rec)
        driver_id = self.check.driver_request(rec, msg)  # unverified: no reply, dead letter
        channel = KafkaReplyChannel(self.bridge, driver_id)
        try:
            validate(msg)
        except WireError as exc:
            # Its driver proved who it is: tell them what is wrong, and set it aside.
            self.dead.add(rec, f"invalid: {exc}")
            channel.send(error_response(str(exc), msg, exc.code))
            return channel.deliveries
        expired = self._expired(msg)
        if expired:
            log("warning", f"{msg['type']} id={msg['message_id']} from {driver_id} expired: "
                           f"{expired}; not carried out")
            channel.send(failure(msg, f"request expired ({expired}): the driver had given up "
                                      "waiting, nothing was started", None, reason="expired",
                                 cp_id=msg.get("cp_id", ""), session_id=None))
            return channel.deliveries
        await dispatch(self.router, msg, channel)
        if any(m.get("code") == "internal_error" for m in channel.sent):
            # The boundary answered the driver; the record is kept for a look all the same.
            self.dead.add(rec, f"handler failed on {msg['type']}: internal error")
        return channel.deliveries

    def _expired(self, msg: dict) -> str | None:
        """A charge request read from Kafka long after it was sent (Central was down)
        must not start a session its driver no longer follows: the driver gave up
        after its own timeout and said so. `expires_at` (set by the driver) wins;
        otherwise requests older than --kafka-request-ttl are stale."""
        if msg.get("type") != t.CHARGE_REQUEST:
            return None
        now = unix_time()
        expires_at = msg.get("expires_at")
        if isinstance(expires_at, int) and not isinstance(expires_at, bool):
            # From the deadline's own second on: the driver may already have given up.
            return f"expired {now - expires_at} s ago" if now >= expires_at else None
        sent = msg.get("timestamp")
        if isinstance(sent, int) and now - sent > self.hub.config.kafka_request_ttl:
            return f"sent {now - sent} s ago"
        return None
