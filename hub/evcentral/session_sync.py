"""Several Centrals on one database: each one's copies of the live sessions kept in
line with the database, which is the truth (evcentral.cluster).

Kafka's consumer group hands a session's telemetry to whichever Central reads its
partition, and a CP's Monitor may move between Centrals mid-session. So every
second a Central reads the live sessions: it adopts the ones another Central opened,
ends its copy of the ones another Central finalised, and takes the figures another
Central stored (energy only grows within a session: the higher figure is newer).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from evcentral.session_store import Session
from evwire import types as t

if TYPE_CHECKING:
    from evcentral.sessions import Sessions


def opened_elsewhere(sessions: Sessions, session_id: str) -> Session | None:
    """A session another Central opened a moment ago (before this one's next sync),
    whose telemetry this one's partitions carry; None if not live."""
    stored = sessions.store.get(session_id)
    if stored is None or not stored.live:
        return None
    sessions.adopt(stored)
    return stored


def sync_from_store(sessions: Sessions) -> None:
    stored = {row.session_id: row for row in sessions.store.live()}
    for session_id, row in stored.items():
        mine = sessions.live.get(session_id)
        if mine is None:
            sessions.adopt(row)
        elif _take_figures(mine, row):
            cp = sessions.registry.cps.get(mine.cp_id)
            if cp is not None and cp.connection is not None:
                sessions.registry.note(cp)
                sessions.on_event(mine, t.STATUS_EVENT_SESSION_LIVE)
            elif sessions.on_remote_event is not None:  # the web console's live view
                sessions.on_remote_event(mine, t.STATUS_EVENT_SESSION_LIVE)
    for session_id in [s for s in sessions.live if s not in stored]:
        final = sessions.store.get(session_id)
        if final is not None and final.finalised:
            sessions.end_copy(final)  # finalised by another Central: no write here


def _take_figures(mine: Session, row: Session) -> bool:
    """The stored figures if newer than this copy's; True if anything changed."""
    changed = False
    if row.energy_kwh > mine.energy_kwh:
        mine.energy_kwh, mine.cost, mine.rate_kw = row.energy_kwh, row.cost, row.rate_kw
        mine.updated_at = max(mine.updated_at, row.updated_at)
        changed = True
    if mine.status == "starting" and row.status == "active":
        mine.status = "active"  # the data or the heartbeat that proved it came elsewhere
        changed = True
    return changed
