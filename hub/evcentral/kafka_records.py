"""Records Central consumes from Kafka: telemetry from cp-events, requests from
driver-requests. Runs on the asyncio loop, one batch at a time.

A batch returns only when its effects are stored and every record it
produced has a delivery report; the bridge commits offsets after that.
The tickets of the completions a batch finalised are sent together at its
end, and marked sent in one transaction. A large batch lets the loop serve
the sockets between slices of it, so that Monitors and Drivers are not kept
waiting while thousands of records are handled.
A record that cannot be decoded or validated is logged and skipped (it can
never become valid); driver requests go through the same boundary as socket
ones and are answered on driver-events, keyed by driver id.
"""
from __future__ import annotations

import asyncio

from evcentral.boundary import ROLE_DRIVER, Router, dispatch
from evcentral.config import Hub
from evcentral.telemetry import KafkaBridge, Record
from evkafka import names
from evwire import dumps, error_response, failure, loads
from evwire import types as t
from evwire.compat import unix_time
from evwire.dispatch import Dispatcher
from evwire.errors import WireError
from evwire.trace import log, trace

TELEMETRY_TYPES = (t.CHARGING_DATA, t.CHARGE_COMPLETION)
SLICE = 100  # records handled before the loop serves other work again


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

    def __init__(self, bridge: KafkaBridge, driver_id: str):
        self.bridge = bridge
        self.driver_id = driver_id
        self.role: str | None = ROLE_DRIVER
        self.cp_id: str | None = None
        self.last_message = 0.0
        self.deliveries: list[asyncio.Future] = []

    def send(self, msg: dict) -> bool:
        trace("send", msg)
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
        self.cp_events = names.cp_events()
        self.driver_requests = names.driver_requests()

    async def handle_batch(self, records: list[Record]) -> None:
        deliveries: list[asyncio.Future] = []
        for i, rec in enumerate(records):
            if i and i % SLICE == 0:
                await asyncio.sleep(0)
            if rec.topic == self.cp_events:
                deliveries += await self._telemetry(rec)
            elif rec.topic == self.driver_requests:
                deliveries += await self._driver_request(rec)
        self.hub.sessions.flush_live()
        # A failed delivery (a record or a ticket) fails the batch: it is retried.
        await asyncio.gather(self._send_tickets(), *deliveries)

    async def _send_tickets(self) -> None:
        """Tickets of the completions this batch finalised: published together, then the
        delivered ones marked sent in one transaction. One that fails stays unsent and
        fails the batch, so its completion comes again and it is sent then."""
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
        sessions.store.mark_tickets_sent([s.session_id for s in delivered])
        for final in delivered:
            log("info", f"ticket of session {final.session_id} delivered to {final.driver_id}")
        for result in results:
            if isinstance(result, Exception):
                raise result

    def _decode(self, rec: Record) -> dict:
        if rec.value is None:
            raise WireError("empty record")
        msg = loads(rec.value)
        if not isinstance(msg, dict):
            raise WireError("record value is not a CBOR map")
        return msg

    async def _telemetry(self, rec: Record) -> list[asyncio.Future]:
        where = f"{rec.topic}[{rec.partition}]@{rec.offset}"
        try:
            msg = self._decode(rec)
            handler = self.telemetry.resolve(msg)
        except WireError as exc:
            log("warning", f"skipping record {where}: {exc}")
            return []
        trace("enter", msg)
        deliveries = await handler(msg, rec.value)
        trace("exit", msg)
        return deliveries

    async def _driver_request(self, rec: Record) -> list[asyncio.Future]:
        key = rec.key.decode("utf-8", "replace") if rec.key else ""
        try:
            msg = self._decode(rec)
        except WireError as exc:
            log("warning", f"skipping driver request {rec.topic}[{rec.partition}]@{rec.offset}:"
                           f" {exc}")
            if not key:
                return []
            channel = KafkaReplyChannel(self.bridge, key)
            channel.send(error_response(str(exc), None, exc.code))
            return channel.deliveries
        driver_id = msg.get("driver_id") if isinstance(msg.get("driver_id"), str) else key
        if not driver_id:
            log("warning", f"driver request id={msg.get('message_id')} names no driver: "
                           "no one to answer, skipped")
            return []
        channel = KafkaReplyChannel(self.bridge, driver_id)
        expired = self._expired(msg)
        if expired:
            log("warning", f"{msg['type']} id={msg['message_id']} from {driver_id} expired: "
                           f"{expired}; not carried out")
            channel.send(failure(msg, f"request expired ({expired}): the driver had given up "
                                      "waiting, nothing was started", None, reason="expired",
                                 cp_id=msg.get("cp_id", ""), session_id=None))
            return channel.deliveries
        await dispatch(self.router, msg, channel)
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
            return f"expired {now - expires_at} s ago" if now > expires_at else None
        sent = msg.get("timestamp")
        if isinstance(sent, int) and now - sent > self.hub.config.kafka_request_ttl:
            return f"sent {now - sent} s ago"
        return None
