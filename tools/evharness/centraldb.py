"""Read Central's database directly (SQLite or PostgreSQL): the record of what was billed.

Tests and the demo check billing against the database itself (what "the
session is in its database" means), which also works while Central is down.
Read only: a short-lived connection per query, so Central's writes go on.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path


def sessions(db_path: str | Path) -> list[dict]:
    """Every session row, oldest first, as plain dicts (booleans as bool)."""
    if str(db_path).startswith(("postgresql://", "postgres://")):
        return _plain(_pg_rows(str(db_path)))
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
    return _plain([{key: row[key] for key in row.keys()} for row in rows])


def _pg_rows(url: str) -> list[dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row,
                         connect_timeout=10) as conn:
        try:
            return conn.execute("SELECT * FROM sessions ORDER BY started_at, rowid").fetchall()
        except psycopg.errors.UndefinedTable:
            return []  # Central has not created its schema yet


def _plain(rows: list[dict]) -> list[dict]:
    result = []
    for row in rows:
        record = {key: value for key, value in row.items() if key not in ("ticket", "rowid")}
        record["finalised"] = bool(record.get("finalised"))
        record["ticket_sent"] = bool(record.get("ticket_sent"))
        result.append(record)
    return result
