"""Central's feed of charge point state to Kafka (`evcharge.cp-status`, compacted).

Every change of a CP's state (registry.note) and every session event (start,
live figures at most once a second per CP, end) becomes one cp_status record
keyed by cp_id, carrying the CP's whole current state: a reader that keeps
only the latest record per key (the MQTT bridge, a second console) knows
everything without private access to Central.

The feed is a side channel: it never blocks or fails a handler. Records are
produced through KafkaBridge.publish (asynchronous); a refused or undelivered
record is logged once per outage and dropped, the next change carries the
whole state again. Until the topic exists (created compacted by start()),
records are dropped; start() then publishes every CP's state once.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from evcentral.registry import ChargePoint, Registry
from evcentral.session_store import Session
from evcentral.sites import SiteAllocator
from evkafka import names
from evkafka.compacted import ensure_compacted_topic
from evwire import dumps, make
from evwire import types as t
from evwire.compat import unix_time
from evwire.trace import log

LIVE_INTERVAL_S = 1.0  # live session figures: at most one record a second per CP
TOPIC_RETRY_S = 2.0

Publish = Callable[[str, bytes], "asyncio.Future[None]"]  # (cp_id, CBOR value) -> delivery


def status_record(registry: Registry, cp: ChargePoint, event: str,
                  session: Session | None = None, reason: str | None = None,
                  sites: SiteAllocator | None = None) -> dict:
    """The CP's whole current state as a cp_status message."""
    fields: dict = dict(cp_id=cp.cp_id, state=registry.status_of(cp), event=event,
                        timestamp=unix_time(), location=cp.location[:512],
                        # within the catalogue's ranges (kw, price): a reader drops
                        # a record out of range, and with it the CP's state
                        max_kw=max(0.0, min(cp.max_kw, 1000.0)),
                        price_per_kwh=max(0.0, min(registry.price_of(cp), 100.0)))
    session = session or cp.session
    if session is not None:
        fields.update(session_id=session.session_id, driver_id=session.driver_id,
                      power_kw=round(max(0.0, session.rate_kw), 3),
                      energy_kwh=round(max(0.0, session.energy_kwh), 4),
                      cost=round(max(0.0, session.cost), 2))
        if event == t.STATUS_EVENT_SESSION_END:
            fields["power_kw"] = 0.0
    if reason:
        fields["reason"] = reason[:512]
    limit = sites.limit_of(cp.cp_id) if sites is not None else None
    if limit is not None:  # in a site (sites.py): its current share
        fields.update(site_id=sites.site_of[cp.cp_id], limit_kw=limit)
    return make(t.CP_STATUS, **fields)


class StatusFeed:
    def __init__(self, registry: Registry, publish: Publish, bootstrap: str,
                 live_interval: float = LIVE_INTERVAL_S):
        self.registry = registry
        self.publish = publish
        self.bootstrap = bootstrap
        self.live_interval = live_interval
        self.ready = False
        self._last_live: dict[str, float] = {}
        self._failing = False  # one log line per outage, not one per record
        self._task: asyncio.Task | None = None
        self.sites: SiteAllocator | None = None  # site_id and limit_kw in each record (app.py)

    # -- hooks (loop thread) ------------------------------------------------------
    def state_changed(self, cp: ChargePoint, why: str = "") -> None:
        self._emit(cp, t.STATUS_EVENT_STATE, None, why or None)

    def session_event(self, session: Session, event: str) -> None:
        cp = self.registry.cps.get(session.cp_id)
        if cp is None:
            return
        if event == t.STATUS_EVENT_SESSION_LIVE:
            now = time.monotonic()
            if now - self._last_live.get(cp.cp_id, -1e9) < self.live_interval:
                return
            self._last_live[cp.cp_id] = now
        elif event == t.STATUS_EVENT_SESSION_END:
            self._last_live.pop(cp.cp_id, None)
        self._emit(cp, event, session, session.reason if event == t.STATUS_EVENT_SESSION_END
                   else None)

    def _emit(self, cp: ChargePoint, event: str, session: Session | None,
              reason: str | None) -> None:
        if not self.ready:
            return
        if cp.connection is None and cp.cp_id in self.registry.remote:
            return  # its Monitor is connected to another Central, which speaks for it
        try:
            value = dumps(status_record(self.registry, cp, event, session, reason, self.sites))
            future = self.publish(cp.cp_id, value)
            future.add_done_callback(self._delivered)
        except Exception as exc:  # a side channel: the handler that called us goes on
            self._fail(f"record for {cp.cp_id} not produced ({exc})")

    def _delivered(self, future: asyncio.Future) -> None:
        exc = future.exception() if not future.cancelled() else None
        if exc is not None:
            self._fail(f"record not delivered ({exc})")
        elif self._failing:
            self._failing = False
            log("info", "cp-status: records delivered again")

    def _fail(self, text: str) -> None:
        if not self._failing:
            self._failing = True
            log("warning", f"cp-status: {text}; later failures not logged until one succeeds")

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        """Create the compacted topic (retrying in the background), then publish
        every CP's state once, so stale records of a previous run are replaced."""
        self._task = asyncio.ensure_future(self._start())

    async def _start(self) -> None:
        topic = names.cp_status()
        while True:
            try:
                await asyncio.to_thread(ensure_compacted_topic, self.bootstrap, topic)
                break
            except Exception as exc:
                log("warning", f"cp-status: topic {topic} not ready ({exc}); retrying")
                await asyncio.sleep(TOPIC_RETRY_S)
        self.ready = True
        for cp in list(self.registry.cps.values()):
            self._emit(cp, t.STATUS_EVENT_STATE, None, None)
        log("info", f"cp-status: publishing CP state to {topic}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
