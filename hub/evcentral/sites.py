"""Sites: a connection limit shared among its charge points (smart charging, issue 22).

`allocate` is the pure rule; `SiteAllocator` applies it to the live state and
sends `set_charging_limit` to each CP whose share changed (docs/SMART_CHARGING.md).

The rule: the site's max_kw is divided among its CPs with a live session
(starting or active, not faulted, not stopped by the operator), in the order
their sessions started. The first n that can each get the minimum charging
power (min_kw: 6 A on every phase) are admitted; the rest get 0 (queued: the
Engine offers no current, the session stays open) until power frees up. The
admitted CPs share fairly: equal shares, each capped by its CP's max_kw, and
what a capped CP leaves is shared among the others (water filling). Idle CPs of
a site get 0 too, so a car plugging in draws nothing before its share is set.

OCPP chargers (protocol "ocpp") are left out: no SetChargingProfile is sent
(docs/OCPP.md), and they get no share.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evcentral.db import Database, ProvisioningError, now_s
from evcentral.store.errors import DATABASE_ERRORS, INTEGRITY_ERRORS
from evwire import make_timestamped
from evwire import types as t
from evwire.trace import log

if TYPE_CHECKING:
    from evcentral.registry import ChargePoint, Registry
    from evcentral.session_store import Session
    from evcentral.sessions import Sessions

DEFAULT_MIN_KW = 4.2  # 6 A x 3 phases x 230 V: the least a 3-phase car accepts
HOLD_S = 60  # the Engine keeps a limit this long without renewal (the Monitor renews it)
REFRESH_S = 1.0  # sites and memberships changed by `evcharge central` are seen this fast
EPSILON_KW = 0.01  # shares closer than this count as unchanged (no new command)



@dataclass
class Site:
    site_id: str
    max_kw: float
    min_kw: float


@dataclass
class Claim:
    """A CP asking for power: its id, its own max, and when its session started."""

    cp_id: str
    max_kw: float
    since: float = 0.0


def allocate(max_kw: float, min_kw: float, claims: Sequence[Claim]) -> dict[str, float]:
    """kW per CP id (0 = queued). Never more than max_kw in total."""
    shares = {c.cp_id: 0.0 for c in claims}
    order = sorted(claims, key=lambda c: (c.since, c.cp_id))  # first come, first served
    admitted: list[Claim] = []
    reserved = 0.0
    for claim in order:
        floor = min(min_kw, claim.max_kw)  # a CP whose own max is below the minimum needs less
        if reserved + floor > max_kw + 1e-9:
            break  # FCFS: later sessions wait even if a smaller one would fit
        admitted.append(claim)
        reserved += floor
    remaining = max_kw
    open_claims = sorted(admitted, key=lambda c: c.max_kw)
    while open_claims:
        fair = remaining / len(open_claims)
        claim = open_claims[0]
        if claim.max_kw <= fair:  # capped: its unused part goes to the others
            shares[claim.cp_id] = claim.max_kw
            remaining -= claim.max_kw
            open_claims.pop(0)
            continue
        for rest in open_claims:
            shares[rest.cp_id] = fair
        break
    return {cp_id: _round_down(kw) for cp_id, kw in shares.items()}


def _round_down(kw: float) -> float:
    """To 10 W, downwards: rounding must never push the sum above the site limit."""
    return int(kw * 100 + 1e-6) / 100.0


# -- the sites table (evcharge central add-site ...) --------------------------------------
def add_site(db: Database, site_id: str, max_kw: float, min_kw: float | None) -> None:
    with db.transaction() as c:
        try:
            c.execute("INSERT INTO sites (site_id, max_kw, min_kw, created_at) VALUES (?, ?, ?, ?)",
                      (site_id, max_kw, DEFAULT_MIN_KW if min_kw is None else min_kw, now_s()))
        except INTEGRITY_ERRORS:
            raise ProvisioningError(f"site {site_id} exists: use update-site") from None


def update_site(db: Database, site_id: str, max_kw: float | None, min_kw: float | None) -> None:
    with db.transaction() as c:
        done = c.execute("UPDATE sites SET max_kw = COALESCE(?, max_kw),"
                         " min_kw = COALESCE(?, min_kw) WHERE site_id = ?",
                         (max_kw, min_kw, site_id)).rowcount
        if done == 0:
            raise ProvisioningError(f"unknown site {site_id}")


def remove_site(db: Database, site_id: str) -> int:
    """Delete the site; its CPs are detached (no limit). Returns how many were."""
    with db.transaction() as c:
        if c.execute("DELETE FROM sites WHERE site_id = ?", (site_id,)).rowcount == 0:
            raise ProvisioningError(f"unknown site {site_id}")
        return c.execute("UPDATE cps SET site_id = NULL WHERE site_id = ?", (site_id,)).rowcount


def sites(db: Database) -> list[Site]:
    return [Site(r["site_id"], r["max_kw"], r["min_kw"])
            for r in db.conn.execute("SELECT * FROM sites ORDER BY site_id")]


def memberships(db: Database) -> dict[str, str]:
    """cp_id -> site_id for every CP in a site."""
    return {r["cp_id"]: r["site_id"]
            for r in db.conn.execute("SELECT cp_id, site_id FROM cps WHERE site_id IS NOT NULL")}


def set_cp_site(db: Database, cp_id: str, site_id: str | None) -> None:
    """Attach a CP to a site ('' or None: detach)."""
    with db.transaction() as c:
        if site_id and c.execute("SELECT 1 FROM sites WHERE site_id = ?",
                                 (site_id,)).fetchone() is None:
            raise ProvisioningError(f"unknown site {site_id}: add it with add-site first")
        if c.execute("UPDATE cps SET site_id = ? WHERE cp_id = ?",
                     (site_id or None, cp_id)).rowcount == 0:
            raise ProvisioningError(f"unknown charge point {cp_id}")


def chain(first, second):
    """One hook calling both in order: the shares first, so that the status feed
    that follows already shows the new limit."""
    def both(*args) -> None:
        first(*args)
        if second is not None:
            second(*args)
    return both


# -- the service ----------------------------------------------------------------------
class SiteAllocator:
    """Keeps every site's shares current and tells the CPs whose share changed."""

    def __init__(self, db: Database, registry: Registry, sessions: Sessions):
        self.db = db
        self.registry = registry
        self.sessions = sessions
        self.sites: dict[str, Site] = {}
        self.site_of: dict[str, str] = {}  # cp_id -> site_id
        self.limits: dict[str, float] = {}  # cp_id -> the share last sent
        self.reload()

    def reload(self) -> None:
        """Re-read sites and memberships (the CLI edits them while Central runs)."""
        self.sites = {s.site_id: s for s in sites(self.db)}
        self.site_of = memberships(self.db)

    def limit_of(self, cp_id: str) -> float | None:
        """The CP's current share (None: not in a site, not load managed)."""
        return self.limits.get(cp_id) if cp_id in self.site_of else None

    # Hooks (registry.on_change, sessions.on_event): one call each.
    def state_changed(self, cp: ChargePoint, _why: str = "") -> None:
        self.recompute(self.site_of.get(cp.cp_id))

    def session_event(self, session: Session, _event: str) -> None:
        self.recompute(self.site_of.get(session.cp_id))

    def recompute(self, site_id: str | None) -> None:
        site = self.sites.get(site_id or "")
        if site is None:
            return
        members = [cp_id for cp_id, s in self.site_of.items() if s == site.site_id]
        shares = allocate(site.max_kw, site.min_kw, self._claims(members))
        for cp_id in members:
            kw = shares.get(cp_id, 0.0)
            old = self.limits.get(cp_id)
            self.limits[cp_id] = kw
            if old is None or abs(old - kw) >= EPSILON_KW:
                self._send(cp_id, site.site_id, kw)

    def live_total(self, site_id: str) -> float:
        """The measured power of the site's live sessions, kW."""
        return round(sum(s.rate_kw for s in self.sessions.live.values()
                         if not s.finalised and self.site_of.get(s.cp_id) == site_id), 3)

    def _claims(self, members: list[str]) -> list[Claim]:
        claims = []
        for session in self.sessions.live.values():
            if session.finalised or session.cp_id not in members:
                continue
            cp = self.registry.cps.get(session.cp_id)
            if cp is None or cp.faulted or cp.stopped or cp.protocol == "ocpp":
                continue
            claims.append(Claim(cp.cp_id, cp.max_kw, float(session.started_at)))
        return claims

    def _send(self, cp_id: str, site_id: str, kw: float) -> None:
        cp = self.registry.cps.get(cp_id)
        if cp is None or cp.protocol == "ocpp":
            return
        fields = dict(cp_id=cp_id, limit_kw=kw, hold_s=HOLD_S, site_id=site_id)
        if cp.session is not None and not cp.session.finalised:
            fields["session_id"] = cp.session.session_id
        log("info", f"{cp_id}: site {site_id} limit {kw:g} kW")
        # Not reachable now: the next heartbeat_response carries limit_kw anyway.
        self.registry.send_to(cp, make_timestamped(t.SET_CHARGING_LIMIT, **fields))

    async def run(self) -> None:
        """Pick up CLI changes (site limits, memberships) and recompute every site."""
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                self.reload()
            except DATABASE_ERRORS as exc:
                log("warning", f"cannot read sites: {exc}")
                continue
            for cp_id in [c for c in self.limits if c not in self.site_of]:
                del self.limits[cp_id]  # detached: no longer load managed
            for site_id in self.sites:
                self.recompute(site_id)
