"""Read Central's SQLite database directly: the record of what was billed.

Tests and the demo check billing against the database itself (what "the
session is in its database" means), which also works while Central is down.
Read only: a short-lived connection per query, so Central's writes go on.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path


def sessions(db_path: str | Path) -> list[dict]:
    """Every session row, oldest first, as plain dicts (booleans as bool)."""
    if not Path(db_path).exists():
        return []
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10.0)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM sessions ORDER BY started_at, rowid").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []  # Central has not created its schema yet
        raise
    finally:
        conn.close()
    result = []
    for row in rows:
        record = {key: row[key] for key in row.keys() if key != "ticket"}
        record["finalised"] = bool(record.get("finalised"))
        record["ticket_sent"] = bool(record.get("ticket_sent"))
        result.append(record)
    return result
