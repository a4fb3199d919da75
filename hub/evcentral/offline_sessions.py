"""Sessions a charge point started while no Central answered (its offline list).

Their records reach Central through Kafka like any other, marked `offline`
by the Monitor before it signed them. Central had no row for such a session:
the first record whose `mac` verified (record_check.py: the CP proved
itself) and which names a known driver creates it, once: origin `offline`,
request_id `offline:<session_id>`, the CP's current price at Central
(Central is the authority on money: the CP's own cost is compared, never
billed), started_at from the record. From there the normal path applies:
live data to the driver, the completion billed exactly once, the ticket. A
record naming an unknown driver is refused (record_check dead-letters it).
"""
from __future__ import annotations

from evcentral.config import Hub
from evcentral.db import now_s
from evcentral.session_store import Session
from evcentral.store.errors import INTEGRITY_ERRORS
from evwire import types as t
from evwire.schema import kind_ok
from evwire.trace import log

ORIGIN_OFFLINE = "offline"


class OfflineRefused(Exception):
    """The record cannot open an offline session; the text is the dead letter's reason."""


def request_id_of(session_id: str) -> str:
    return f"offline:{session_id}"


def open_offline(hub: Hub, msg: dict, cp_id: str) -> Session:
    """The session row of an offline session, created from its first verified record."""
    session_id = msg["session_id"]
    driver_id = msg.get("driver_id")
    if not driver_id:
        raise OfflineRefused(f"offline session {session_id} at {cp_id}: the record names "
                             "no driver_id")
    if hub.db.driver(driver_id) is None:
        raise OfflineRefused(f"offline session {session_id} at {cp_id}: unknown driver "
                             f"{driver_id} (not registered with this network)")
    cp = hub.registry.get(cp_id)
    if cp is None:
        raise OfflineRefused(f"offline session {session_id}: charge point {cp_id} is no "
                             "longer provisioned")
    now = now_s()
    started = msg.get("started_at")
    if not kind_ok(started, "ts") or started > now:
        started = msg["timestamp"] if kind_ok(msg.get("timestamp"), "ts") else now
    session = Session(session_id=session_id, request_id=request_id_of(session_id),
                      cp_id=cp_id, driver_id=driver_id, origin=ORIGIN_OFFLINE,
                      status="active", price_per_kwh=hub.registry.price_of(cp),
                      max_kw=cp.max_kw, started_at=min(started, now), updated_at=now)
    sessions = hub.sessions
    try:
        sessions.store.create(session)
    except INTEGRITY_ERRORS:
        stored = sessions.get(session_id)  # another Central created it a moment ago
        if stored is None:
            raise OfflineRefused(f"offline session {session_id}: its request id is "
                                 "taken by another session") from None
        return stored
    if sessions.live_of_driver(driver_id) is None:
        sessions.adopt(session)  # indexed by driver and attached to its CP
    else:  # the driver charges elsewhere too: keep that one as the driver's live session
        sessions.live[session_id] = session
        if cp.session is None:
            cp.session = session
            hub.registry.note(cp)
    log("info", f"session {session_id} started offline at {cp_id} for {driver_id}: "
                f"reconciled, billed at Central's {session.price_per_kwh} per kWh "
                f"(the CP used {msg.get('price_per_kwh', '?')})")
    sessions.on_event(session, t.STATUS_EVENT_SESSION_START)
    return session
