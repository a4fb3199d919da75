"""What a Driver asks Central (over TCP, or over Kafka as a fallback), one handler per type.

A driver speaks only for itself: on a socket its first message is an
auth_request naming driver_id (the same MAC as a charge point's, keyed with
the driver's secret), and every later request must name that driver; a Kafka
request's channel carries the driver_id whose secret signed the record
(kafka_records.py). So a driver sees, charges and stops only as itself.
"""
from __future__ import annotations

from evcentral.auth import DRIVER, AuthFailure
from evcentral.auth_gate import authenticate
from evcentral.charging import ChargeDesk, ChargeRefused
from evcentral.config import Hub
from evcentral.registry import Channel, ChargePoint
from evcentral.relay import owner_elsewhere
from evcentral.replies import ok, refused
from evwire import make
from evwire import types as t
from evwire.errors import RejectedError
from evwire.trace import log

DRIVER_TYPES = (
    t.CHARGE_REQUEST, t.STOP_CHARGING_REQUEST, t.AVAILABLE_CPS_REQUEST,
    t.SESSION_HISTORY_REQUEST,
)
MAX_HISTORY = 500


class NotAuthenticated(RejectedError):
    code = "not_authenticated"


class WrongDriver(RejectedError):
    code = "driver_mismatch"


def driver_of(msg: dict, channel: Channel) -> str:
    """The driver this channel proved to be, which msg must name if it names one."""
    authenticated = getattr(channel, "driver_id", None)
    if not authenticated:
        raise NotAuthenticated(f"{msg['type']}: not authenticated: a driver connection starts "
                               "with auth_request (driver_id and the driver's MAC)")
    named = msg.get("driver_id")
    if named is not None and named != authenticated:
        raise WrongDriver(f"{msg['type']}: this connection is authenticated as driver "
                          f"{authenticated}, not {named}")
    return authenticated


def cp_map(hub: Hub, cp: ChargePoint) -> dict:
    """A CP as drivers see it (available_cps_response.charging_points)."""
    return {
        "cp_id": cp.cp_id,
        "location": cp.location,
        "status": hub.registry.status_of(cp),
        "price_per_kwh": hub.registry.price_of(cp),
        "max_charging_rate_kw": cp.max_kw,
    }


class DriverHandlers:
    def __init__(self, hub: Hub, desk: ChargeDesk):
        self.hub = hub
        self.desk = desk

    async def auth_request(self, msg: dict, channel: Channel) -> dict | None:
        if getattr(channel, "origin", "socket") != "socket":
            raise RejectedError("auth_request belongs on Central's socket; requests by Kafka "
                                "carry a mac instead")
        try:
            driver_id = await authenticate(self.hub, DRIVER, msg["driver_id"], msg, channel)
        except AuthFailure as denial:
            channel.send(refused(msg, str(denial), reason=denial.reason))
            channel.close(f"authentication failed ({denial.reason})")
            return None
        channel.driver_id = driver_id  # type: ignore[attr-defined]  # a driver connection now
        log("info", f"driver {driver_id} authenticated")
        return ok(msg, message=f"authenticated as driver {driver_id}")

    async def charge_request(self, msg: dict, channel: Channel) -> dict | None:
        cp_id, driver_id = msg["cp_id"], driver_of(msg, channel)
        owner = owner_elsewhere(self.hub, channel, cp_id)
        if owner is not None:
            return await self.hub.relay.forward(msg, channel, owner)  # type: ignore[union-attr]
        origin = getattr(channel, "origin", "socket")
        try:
            session, is_new = self.desk.open(cp_id, driver_id, msg["message_id"], origin)
            if is_new:
                self.desk.send_start(session)
        except ChargeRefused as denial:
            return refused(msg, str(denial), reason=denial.reason, cp_id=cp_id,
                           session_id=None, driver_id=driver_id)
        return ok(msg, message=f"charging authorised at {cp_id}", reason=None, cp_id=cp_id,
                       session_id=session.session_id, driver_id=driver_id,
                       price_per_kwh=session.price_per_kwh)

    async def stop_charging_request(self, msg: dict, channel: Channel) -> dict | None:
        driver_id = driver_of(msg, channel)
        owner = owner_elsewhere(self.hub, channel, msg["cp_id"])
        if owner is not None:
            return await self.hub.relay.forward(msg, channel, owner)  # type: ignore[union-attr]
        try:
            session = self.desk.stop(msg["cp_id"], msg["session_id"], driver_id)
        except ChargeRefused as denial:
            return refused(msg, str(denial), reason=denial.reason,
                           session_id=msg["session_id"], **_driver(driver_id))
        return ok(msg, message=f"stop requested at {session.cp_id}: the ticket follows",
                       session_id=session.session_id, **_driver(driver_id))

    async def available_cps_request(self, msg: dict, channel: Channel) -> dict:
        driver_of(msg, channel)
        self.hub.registry.refresh()
        points = [cp_map(self.hub, cp) for _id, cp in sorted(self.hub.registry.cps.items())]
        return make(t.AVAILABLE_CPS_RESPONSE, msg["message_id"], status=t.SUCCESS,
                    charging_points=points, driver_id=msg["driver_id"])

    async def session_history_request(self, msg: dict, channel: Channel) -> dict:
        driver_id = driver_of(msg, channel)
        limit = msg.get("limit") or self.hub.config.history_limit
        limit = max(1, min(MAX_HISTORY, limit))
        live = self.hub.sessions.live
        rows = self.hub.sessions.store.history(driver_id, limit)
        sessions = [live.get(row.session_id, row).summary() for row in rows]
        return make(t.SESSION_HISTORY_RESPONSE, msg["message_id"], status=t.SUCCESS,
                    sessions=sessions, driver_id=driver_id)


def _driver(driver_id: str | None) -> dict:
    return {"driver_id": driver_id} if driver_id else {}
