"""The audit trail: every admin action and every failed authentication, with when,
from which address, who (as claimed), what and the result. Stored in Central's
database (table `audit`), printed by `evcharge admin ... audit`.

Texts are stored as received (bounded in length); whoever prints them escapes
control characters. The table keeps the newest MAX_ROWS rows.
"""
from __future__ import annotations

from dataclasses import dataclass

from evcentral.db import Database, now_s

MAX_ROWS = 100_000
MAX_TEXT = 200
PRUNE_EVERY = 1_000  # rows written between two prunings


@dataclass
class AuditEntry:
    at: int
    address: str
    who: str
    action: str
    result: str
    detail: str

    def as_map(self) -> dict:
        return dict(self.__dict__)


def _clip(text: object) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


class AuditTrail:
    def __init__(self, db: Database):
        self.db = db
        self._written = 0

    def record(self, address: str, who: str, action: str, result: str,
               detail: str = "") -> None:
        with self.db.transaction() as c:
            c.execute("INSERT INTO audit (at, address, who, action, result, detail)"
                      " VALUES (?, ?, ?, ?, ?, ?)",
                      (now_s(), _clip(address), _clip(who), _clip(action), _clip(result),
                       _clip(detail)))
            self._written += 1
            if self._written % PRUNE_EVERY == 0:
                c.execute("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?",
                          (MAX_ROWS,))

    def entries(self, limit: int = 100, since: int | None = None) -> list[AuditEntry]:
        """The newest `limit` entries (at or after `since`), oldest first."""
        rows = self.db.conn.execute(
            "SELECT at, address, who, action, result, detail FROM audit"
            " WHERE at >= ? ORDER BY id DESC LIMIT ?", (since or 0, limit)).fetchall()
        return [AuditEntry(r["at"], r["address"], r["who"], r["action"], r["result"],
                           r["detail"] or "") for r in reversed(rows)]
