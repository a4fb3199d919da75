"""Session rows and processed message ids in Central's database.

Finalisation is the one place where "exactly once" is decided: one
transaction records the processed message id and updates the row only
`WHERE finalised = 0`, so a redelivered completion changes nothing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from evcentral.db import Database, now_s

LIVE_STATUSES = ("starting", "active", "interrupted")
STATUS_COMPLETED = "completed"  # the Engine's charge_completion arrived
STATUS_FAILED = "failed"  # the start command failed: zero energy
STATUS_CLOSED = "closed"  # an operator closed it with the last known energy
# The CP reported more energy than its power allows in the session's time: not billed,
# the driver's ticket says so and an operator sees it in `admin sessions`.
STATUS_DISPUTED = "disputed"


@dataclass
class Session:
    session_id: str
    request_id: str
    cp_id: str
    driver_id: str
    origin: str
    status: str
    price_per_kwh: float
    max_kw: float
    started_at: int
    updated_at: int
    energy_kwh: float = 0.0
    cost: float = 0.0
    rate_kw: float = 0.0
    meter_start_kwh: float | None = None
    meter_stop_kwh: float | None = None
    reason: str | None = None
    ended_at: int | None = None
    finalised: bool = False
    ticket_sent: bool = False
    cp_cost: float | None = None  # the CP's own total_cost (Central bills its own figure)
    dispute_reason: str | None = None

    @property
    def live(self) -> bool:
        return not self.finalised

    def summary(self) -> dict:
        """The map drivers and operators see (session_history, list_sessions)."""
        return {
            "session_id": self.session_id,
            "cp_id": self.cp_id,
            "driver_id": self.driver_id,
            "status": self.status,
            "energy_consumed_kwh": round(self.energy_kwh, 3),
            "total_cost": round(self.cost, 2),
            "charging_rate": round(self.rate_kw, 2),
            "price_per_kwh": self.price_per_kwh,
            "reason": self.reason,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "cp_cost": None if self.cp_cost is None else round(self.cp_cost, 2),
            "dispute_reason": self.dispute_reason,
        }


_COLUMNS = [f.name for f in fields(Session)]


def _session(row: Any) -> Session:
    values = {name: row[name] for name in _COLUMNS}
    values["finalised"] = bool(values["finalised"])
    values["ticket_sent"] = bool(values["ticket_sent"])
    return Session(**values)


class SessionStore:
    def __init__(self, db: Database):
        self.db = db
        self.conn = db.conn

    def create(self, session: Session) -> None:
        values = asdict(session)
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self.db.transaction() as c:
            c.execute(f"INSERT INTO sessions ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                      [values[name] for name in _COLUMNS])

    def get(self, session_id: str) -> Session | None:
        row = self.conn.execute("SELECT * FROM sessions WHERE session_id = ?",
                                (session_id,)).fetchone()
        return None if row is None else _session(row)

    def by_request(self, request_id: str) -> Session | None:
        row = self.conn.execute("SELECT * FROM sessions WHERE request_id = ?",
                                (request_id,)).fetchone()
        return None if row is None else _session(row)

    def live(self) -> list[Session]:
        rows = self.conn.execute("SELECT * FROM sessions WHERE finalised = 0 ORDER BY started_at")
        return [_session(r) for r in rows]

    def live_of_driver(self, driver_id: str) -> Session | None:
        row = self.conn.execute("SELECT * FROM sessions WHERE driver_id = ? AND finalised = 0"
                                " LIMIT 1", (driver_id,)).fetchone()
        return None if row is None else _session(row)

    def history(self, driver_id: str, limit: int) -> list[Session]:
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE driver_id = ? ORDER BY started_at DESC, rowid DESC"
            " LIMIT ?", (driver_id, limit))
        return [_session(r) for r in rows]

    def recent(self, limit: int) -> list[Session]:
        rows = self.conn.execute(
            "SELECT * FROM sessions ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,))
        return [_session(r) for r in rows]

    def find(self, cp_id: str | None, driver_id: str | None, since: int | None,
             until: int | None, limit: int) -> list[Session]:
        """Newest first, each filter applied when given (the REST API's GET /sessions)."""
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE (CAST(? AS TEXT) IS NULL OR cp_id = ?) AND"
            " (CAST(? AS TEXT) IS NULL OR"
            " driver_id = ?) AND started_at >= ? AND started_at <= ?"
            " ORDER BY started_at DESC, rowid DESC LIMIT ?",
            (cp_id, cp_id, driver_id, driver_id, since or 0,
             2**62 if until is None else until, limit))
        return [_session(r) for r in rows]

    def set_status(self, session_id: str, status: str) -> None:
        with self.db.transaction() as c:
            c.execute("UPDATE sessions SET status = ?, updated_at = ? WHERE session_id = ?"
                      " AND finalised = 0", (status, now_s(), session_id))

    def save_live_values(self, sessions: list[Session]) -> None:
        """Store the latest live values of many sessions in one transaction."""
        if not sessions:
            return
        with self.db.transaction() as c:
            c.executemany(
                "UPDATE sessions SET status = ?, energy_kwh = ?, cost = ?, rate_kw = ?,"
                " meter_start_kwh = COALESCE(meter_start_kwh, ?), updated_at = ?"
                " WHERE session_id = ? AND finalised = 0",
                [(s.status, s.energy_kwh, s.cost, s.rate_kw, s.meter_start_kwh, s.updated_at,
                  s.session_id) for s in sessions])

    def finalise(self, final: Session, ticket: bytes, message_id: str | None, kind: str,
                 over_failed_start: bool = False) -> bool:
        """Finalise once; True if this call did it. Records message_id as processed.

        over_failed_start: also replace a session ended as a failed start (the
        Engine did charge although the start was reported failed, e.g. its answer
        was lost): the Engine's completion is the truth to bill.
        """
        with self.db.transaction() as c:
            # OR IGNORE, not a caught error: PostgreSQL aborts a transaction on one
            if message_id is not None and c.execute(
                    "INSERT OR IGNORE INTO processed (message_id, kind, at) VALUES (?, ?, ?)",
                    (message_id, kind, now_s())).rowcount != 1:
                return False  # this very message was handled before
            updated = c.execute(
                "UPDATE sessions SET status = ?, energy_kwh = ?, cost = ?, rate_kw = 0,"
                " meter_start_kwh = COALESCE(?, meter_start_kwh), meter_stop_kwh = ?, reason = ?,"
                " ended_at = ?, updated_at = ?, finalised = 1, ticket = ?, ticket_sent = 0,"
                " cp_cost = ?, dispute_reason = ?"
                " WHERE session_id = ? AND (finalised = 0 OR (? = 1 AND status = ?))",
                (final.status, final.energy_kwh, final.cost, final.meter_start_kwh,
                 final.meter_stop_kwh, final.reason, final.ended_at, now_s(), ticket,
                 final.cp_cost, final.dispute_reason,
                 final.session_id, int(over_failed_start), STATUS_FAILED)).rowcount
        return updated == 1

    def record_processed(self, message_id: str, kind: str) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT OR IGNORE INTO processed (message_id, kind, at) VALUES (?, ?, ?)",
                      (message_id, kind, now_s()))

    def mark_ticket_sent(self, session_id: str) -> None:
        self.mark_tickets_sent([session_id])

    def mark_tickets_sent(self, session_ids: list[str]) -> None:
        """Many tickets delivered: one transaction (one fsync), not one each."""
        if not session_ids:
            return
        with self.db.transaction() as c:
            c.executemany("UPDATE sessions SET ticket_sent = 1 WHERE session_id = ?",
                          [(session_id,) for session_id in session_ids])

    def ticket(self, session_id: str) -> bytes | None:
        row = self.conn.execute("SELECT ticket FROM sessions WHERE session_id = ?",
                                (session_id,)).fetchone()
        return None if row is None or row["ticket"] is None else bytes(row["ticket"])

    def unsent_tickets(self) -> list[Session]:
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE finalised = 1 AND ticket_sent = 0 AND ticket IS NOT NULL")
        return [_session(r) for r in rows]
