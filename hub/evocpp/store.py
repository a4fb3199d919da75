"""OCPP transactions, persisted: transactionId -> Central's session.

A charger that was offline replays its StartTransaction and StopTransaction
when it comes back. The table makes both idempotent: the same start (cp,
idTag, timestamp, meterStart) gets the same transactionId, and a transaction
is finalised once (`stopped`), so a replayed stop is answered, never billed
again. The table lives in Central's database (SQLite or PostgreSQL), created on first
use by its own versioned migrations (component "ocpp" in schema_version).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evcentral.db import Database, now_s
from evcentral.store.connection import Store
from evcentral.store.migrations import Migration, create_tables, migrate

SCHEMA = """
CREATE TABLE IF NOT EXISTS ocpp_transactions (
    tx_id INTEGER PRIMARY KEY AUTOINCREMENT,
    cp_id TEXT NOT NULL,
    id_tag TEXT NOT NULL,
    started TEXT NOT NULL,          -- the charger's ISO timestamp, as sent
    meter_start_wh INTEGER NOT NULL,
    session_id TEXT,                -- NULL: refused idTag, nothing to bill
    stopped INTEGER NOT NULL DEFAULT 0,
    meter_stop_wh INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (cp_id, id_tag, started, meter_start_wh)
);
CREATE INDEX IF NOT EXISTS ocpp_tx_session ON ocpp_transactions (session_id);
"""


@dataclass
class Transaction:
    tx_id: int
    cp_id: str
    id_tag: str
    meter_start_wh: int
    session_id: str | None
    stopped: bool


def _create(store: Store) -> None:
    create_tables(store, SCHEMA)


# Never edit one that has shipped: a change to the table is a new entry at the end.
MIGRATIONS = [Migration(1, "ocpp_transactions", _create)]


def _tx(row: Any) -> Transaction:
    return Transaction(row["tx_id"], row["cp_id"], row["id_tag"], row["meter_start_wh"],
                       row["session_id"], bool(row["stopped"]))


class TransactionStore:
    def __init__(self, db: Database):
        self.db = db
        migrate(db.conn, MIGRATIONS, component="ocpp")

    def find_start(self, cp_id: str, id_tag: str, started: str,
                   meter_start_wh: int) -> Transaction | None:
        """The transaction this very StartTransaction opened before (a replay)."""
        row = self.db.conn.execute(
            "SELECT * FROM ocpp_transactions WHERE cp_id = ? AND id_tag = ? AND started = ?"
            " AND meter_start_wh = ?", (cp_id, id_tag, started, meter_start_wh)).fetchone()
        return _tx(row) if row else None

    def open(self, cp_id: str, id_tag: str, started: str, meter_start_wh: int,
             session_id: str | None) -> Transaction:
        with self.db.transaction() as c:
            cur = c.execute("INSERT INTO ocpp_transactions (cp_id, id_tag, started,"
                            " meter_start_wh, session_id, created_at) VALUES (?, ?, ?, ?, ?, ?)"
                            " RETURNING tx_id",
                            (cp_id, id_tag, started, meter_start_wh, session_id, now_s()))
            tx_id = int(cur.fetchone()["tx_id"])
        return Transaction(tx_id, cp_id, id_tag, meter_start_wh, session_id, False)

    def get(self, tx_id: int) -> Transaction | None:
        row = self.db.conn.execute("SELECT * FROM ocpp_transactions WHERE tx_id = ?",
                                   (tx_id,)).fetchone()
        return _tx(row) if row else None

    def of_session(self, session_id: str) -> Transaction | None:
        row = self.db.conn.execute("SELECT * FROM ocpp_transactions WHERE session_id = ?"
                                   " ORDER BY tx_id DESC LIMIT 1", (session_id,)).fetchone()
        return _tx(row) if row else None

    def mark_stopped(self, tx_id: int, meter_stop_wh: int) -> bool:
        """True the first time only: the caller that gets True bills the transaction."""
        with self.db.transaction() as c:
            cur = c.execute("UPDATE ocpp_transactions SET stopped = 1, meter_stop_wh = ?"
                            " WHERE tx_id = ? AND stopped = 0", (meter_stop_wh, tx_id))
        return cur.rowcount == 1
