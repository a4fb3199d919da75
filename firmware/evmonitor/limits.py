"""The site's power limit for this charge point, between Central and the Engine.

Central sends set_charging_limit when the CP's share changes, and repeats the
current limit in every heartbeat_response (limit_kw). The Monitor forwards a
new limit to the Engine at once, and re-sends the current one every few
seconds (well inside hold_s) ONLY while Central answers heartbeats: a lost
Central, or a dead Monitor, stops the renewals, and the Engine falls back to
its safe limit when hold_s runs out. That fallback is the whole point, so a
renewal is never sent on stale knowledge.
"""
from __future__ import annotations

import time
from typing import Protocol

from evwire import make_timestamped
from evwire import types as t
from evwire.trace import log

DEFAULT_HOLD_S = 60.0  # a heartbeat's limit_kw carries no hold_s: the last one Central gave
MAX_RENEW_S = 5.0  # renew at least this often, and at least three times per hold_s
CENTRAL_FRESH_BEATS = 3  # Central counts as reachable this many heartbeat intervals


class Forward(Protocol):
    def __call__(self, msg: dict) -> bool: ...


class LimitRelay:
    def __init__(self, cp_id: str, heartbeat_interval: float, forward: Forward):
        self.cp_id = cp_id
        self.forward = forward  # sends a renewal to the Engine
        self.fresh_s = max(2.0, CENTRAL_FRESH_BEATS * heartbeat_interval)
        self.limit_kw: float | None = None
        self.hold_s = DEFAULT_HOLD_S
        self.site_id: str | None = None
        self.last_beat = float("-inf")  # when Central last answered a heartbeat
        self.next_renewal = float("inf")

    @property
    def renew_s(self) -> float:
        return min(MAX_RENEW_S, self.hold_s / 3)

    def central_fresh(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return now - self.last_beat <= self.fresh_s

    def from_central(self, msg: dict) -> None:
        """Central's set_charging_limit (the Station forwards it): remember it."""
        self.last_beat = time.monotonic()  # Central just spoke
        self._adopt(msg["limit_kw"], msg.get("hold_s"), msg.get("site_id"))

    def heartbeat(self, msg: dict) -> None:
        """Every heartbeat_response proves Central reachable; a changed limit_kw
        in it is a new limit (a lost set_charging_limit is repaired here)."""
        self.last_beat = time.monotonic()
        kw = msg.get("limit_kw")
        if kw is None or kw == self.limit_kw:
            return
        log("info", f"Central's heartbeat gives a new charging limit: {kw:g} kW")
        self._adopt(kw, None, self.site_id)
        self._send()

    def engine_connected(self) -> None:
        """A new Engine link: give it the limit now, not at the next renewal."""
        if self.limit_kw is not None and self.central_fresh():
            self.next_renewal = time.monotonic()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.limit_kw is None or now < self.next_renewal:
            return
        if not self.central_fresh(now):
            return  # no renewal: the Engine's hold runs out, it takes its safe limit
        self._send()

    def _adopt(self, kw: float, hold_s: float | None, site_id: str | None) -> None:
        self.limit_kw = kw
        if hold_s is not None:
            self.hold_s = hold_s
        self.site_id = site_id
        self.next_renewal = time.monotonic() + self.renew_s

    def _send(self) -> None:
        fields: dict = {"cp_id": self.cp_id, "limit_kw": self.limit_kw, "hold_s": self.hold_s}
        if self.site_id is not None:
            fields["site_id"] = self.site_id
        self.forward(make_timestamped(t.SET_CHARGING_LIMIT, **fields))
        self.next_renewal = time.monotonic() + self.renew_s
