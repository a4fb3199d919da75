"""Live charge point states: who is connected, what the Monitor reports, and the
heartbeat watchdog that declares a silent CP DISCONNECTED.

Provisioned data (location, price, max kW, operator stop) comes from the
database; liveness and the Monitor's reports are kept in memory only, so
every CP is DISCONNECTED when Central starts.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from evcentral.db import CpRecord, Database
from evwire import types as t
from evwire.trace import log

if TYPE_CHECKING:
    from evcentral.session_store import Session

DEFAULT_MAX_KW = 11.0


class Channel(Protocol):
    """Where replies and commands for a peer go (a TCP connection or a Kafka topic)."""

    role: str | None
    cp_id: str | None
    last_message: float

    def send(self, msg: dict) -> bool: ...

    def close(self, reason: str) -> None: ...


# Shown to drivers and in the list when a stop gives no reason (never a blank note).
DEFAULT_STOP_REASON = "stopped by the operator"


def operator_stop_text(reason: str | None) -> str:
    """What a driver reads about an operator's stop, the reason once (not the default
    twice: "stopped by the operator: stopped by the operator")."""
    given = reason if reason and reason != DEFAULT_STOP_REASON else ""
    return "stopped by the operator" + (f": {given}" if given else "")


@dataclass
class ChargePoint:
    cp_id: str
    location: str
    max_kw: float
    price_per_kwh: float | None
    stopped: bool
    stop_reason: str | None
    stopped_by: str | None = None  # operations.STOPPED_BY_*: resume-all reopens stop-all's only
    connection: Channel | None = None
    registered: bool = False
    reported: str = t.CP_AVAILABLE  # the Monitor's last status word
    faulted: bool = False
    fault_type: str | None = None
    session: Session | None = None  # the live session on this CP, if any
    waiting_for_vehicle: str | None = None  # session authorised here, its car not plugged in
    synced: bool = False  # operator state checked against the Monitor's since it connected
    shown: str = t.CP_DISCONNECTED  # last state the watchdog logged
    protocol: str = "evwire"  # how its connection speaks: evwire (a Monitor) or ocpp
    unavailable: bool = False  # an OCPP charger reports itself Unavailable: shown STOPPED

    def connected(self, now: float, timeout: float) -> bool:
        conn = self.connection
        return conn is not None and now - conn.last_message <= timeout

    def status(self, now: float, timeout: float) -> str:
        if not self.connected(now, timeout):
            return t.CP_DISCONNECTED
        if self.stopped or self.unavailable:
            return t.CP_STOPPED
        if self.faulted:
            return t.CP_FAULTED
        if self.reported == t.CP_CHARGING or (self.session and self.session.status == "active"):
            return t.CP_CHARGING
        return t.CP_AVAILABLE

    def apply_record(self, rec: CpRecord) -> None:
        self.location = rec.location
        self.max_kw = rec.max_kw
        self.price_per_kwh = rec.price_per_kwh
        self.stopped = rec.stopped
        self.stop_reason = rec.stop_reason
        self.stopped_by = rec.stopped_by


class ClusterHooks(Protocol):
    """What evcentral.cluster.Cluster does for the registry (leases in the database)."""

    def attached(self, cp: ChargePoint) -> None: ...

    def detached(self, cp: ChargePoint) -> None: ...

    def state_changed(self, cp: ChargePoint) -> None: ...

    def moved_away(self, cp: ChargePoint) -> bool: ...


class Registry:
    def __init__(self, db: Database, heartbeat_timeout: float, default_price: float):
        self.db = db
        self.heartbeat_timeout = heartbeat_timeout
        self.default_price = default_price
        self.cps: dict[str, ChargePoint] = {}
        # Told every state change (evcentral.status_feed: the cp-status topic).
        self.on_change: Callable[[ChargePoint, str], None] | None = None
        # Several Centrals (evcentral.cluster): the CPs other Centrals hold, cp_id ->
        # (owner, state as the owner shows it), and the hooks that keep leases.
        self.remote: dict[str, tuple[str, str]] = {}
        self.cluster: ClusterHooks | None = None
        # Told when a CP another Central holds changes state (the web console's live view).
        self.on_remote_change: Callable[[ChargePoint, str], None] | None = None
        self.refresh()

    def now(self) -> float:
        return time.monotonic()

    def refresh(self) -> None:
        """Pick up CPs provisioned or removed by `evcharge central add-cp` while running."""
        records = {rec.cp_id: rec for rec in self.db.cps()}
        for cp_id, rec in records.items():
            cp = self.cps.get(cp_id)
            if cp is None:
                self.cps[cp_id] = ChargePoint(rec.cp_id, rec.location, rec.max_kw,
                                              rec.price_per_kwh, rec.stopped, rec.stop_reason,
                                              rec.stopped_by)
            else:
                cp.apply_record(rec)
        for cp_id in [c for c in self.cps if c not in records]:
            cp = self.cps[cp_id]
            if cp.connection is None and cp.session is None:
                del self.cps[cp_id]

    def get(self, cp_id: str) -> ChargePoint | None:
        cp = self.cps.get(cp_id)
        if cp is None:
            rec = self.db.cp(cp_id)
            if rec is not None:
                cp = ChargePoint(rec.cp_id, rec.location, rec.max_kw, rec.price_per_kwh,
                                 rec.stopped, rec.stop_reason, rec.stopped_by)
                self.cps[cp_id] = cp
        return cp

    def price_of(self, cp: ChargePoint) -> float:
        return cp.price_per_kwh if cp.price_per_kwh is not None else self.default_price

    def status_of(self, cp: ChargePoint) -> str:
        if cp.connection is None and cp.cp_id in self.remote:
            return self.remote[cp.cp_id][1]  # its Monitor is connected to another Central
        return cp.status(self.now(), self.heartbeat_timeout)

    def is_connected(self, cp: ChargePoint) -> bool:
        return cp.connected(self.now(), self.heartbeat_timeout)

    def attach(self, cp: ChargePoint, channel: Channel) -> None:
        """A Monitor authenticated: it is now the CP's one connection."""
        old = cp.connection
        if old is not None and old is not channel:
            log("warning", f"{cp.cp_id}: a new Monitor connection replaces the old one")
            old.cp_id = None  # its close must not detach the new connection
            old.close("replaced by a newer connection of the same charge point")
        cp.connection = channel
        cp.protocol = getattr(channel, "protocol", "evwire")
        cp.unavailable = False
        cp.registered = False
        cp.synced = False
        cp.reported = t.CP_AVAILABLE
        if self.cluster is not None:
            self.cluster.attached(cp)
        self._note(cp)

    def detach(self, channel: Channel) -> None:
        cp = self.cps.get(channel.cp_id or "")
        if cp is not None and cp.connection is channel:
            cp.connection = None
            cp.registered = False
            if self.cluster is not None:
                self.cluster.detached(cp)
            self._note(cp, "connection closed")

    def report(self, cp: ChargePoint, status: str) -> None:
        """The Monitor's own view (heartbeat or status_update)."""
        if status == t.CP_FAULTED:
            cp.faulted = True
        elif status in (t.CP_AVAILABLE, t.CP_CHARGING):
            cp.faulted = False
            cp.fault_type = None
        cp.reported = status
        self._note(cp)

    def send_to(self, cp: ChargePoint, msg: dict) -> bool:
        """Send to the CP's Monitor if connected; False when it cannot be reached."""
        if cp.connection is None:
            return False
        return cp.connection.send(msg)

    def _note(self, cp: ChargePoint, why: str = "") -> None:
        state = self.status_of(cp)
        if state == cp.shown:
            return
        if cp.connection is None and self.cluster is not None and (
                cp.cp_id in self.remote or (state == t.CP_DISCONNECTED
                                            and self.cluster.moved_away(cp))):
            cp.shown = self.status_of(cp)  # another Central holds it and speaks for it
            if self.on_remote_change is not None:
                self.on_remote_change(cp, why)
            return
        if state != cp.shown:
            log("info", f"{cp.cp_id}: {cp.shown} -> {state}" + (f" ({why})" if why else ""))
            cp.shown = state
            if self.on_change is not None:
                self.on_change(cp, why)
            if self.cluster is not None:
                self.cluster.state_changed(cp)

    def note(self, cp: ChargePoint, why: str = "") -> None:
        self._note(cp, why)

    async def watchdog(self) -> None:
        """Log every state change, notably heartbeat timeouts (DISCONNECTED with TCP open)."""
        interval = max(0.05, min(0.5, self.heartbeat_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            for cp in list(self.cps.values()):
                silent = cp.connection is not None and not self.is_connected(cp)
                self._note(cp, f"no message for {self.heartbeat_timeout:g} s" if silent else "")
