"""Versioned migrations: an existing SQLite database comes to the current version with
its rows, and the runner applies each migration once, in order, all or nothing, on
both engines."""
from __future__ import annotations

import sqlite3
import time

import pytest

from evcentral.db import Database
from evcentral.secrets_box import SecretBox
from evcentral.session_store import SessionStore
from evcentral.store.connection import Store, open_store
from evcentral.store.migrations import MIGRATIONS, Migration, migrate, version
from evcentral.store.schema import ADDED_COLUMNS, SCHEMA


def make_legacy_database(path: str, columns=ADDED_COLUMNS) -> None:
    """As Central opened a database before versioned migrations (its very statements:
    WAL, SCHEMA, then the ADDED_COLUMNS it knew), with a CP, a session and a message."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    for table, column, declaration in columns:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    box = SecretBox.for_database(path)
    now = int(time.time())
    conn.execute("INSERT INTO cps (cp_id, location, max_kw, secret_enc, created_at)"
                 " VALUES ('CP1', 'Old St', 22.0, ?, ?)", (box.encrypt("old-secret"), now))
    conn.execute("INSERT INTO sessions (session_id, request_id, cp_id, driver_id, origin,"
                 " status, price_per_kwh, max_kw, energy_kwh, cost, started_at, updated_at,"
                 " finalised, ticket) VALUES ('S1', 'R1', 'CP1', 'D1', 'socket', 'completed',"
                 " 0.3, 22.0, 12.5, 3.75, ?, ?, 1, ?)", (now, now, b"ticket"))
    conn.execute("INSERT INTO processed (message_id, kind, at) VALUES ('M1', 'done', ?)", (now,))
    conn.close()


@pytest.mark.parametrize("known", [len(ADDED_COLUMNS), 2], ids=["current", "older"])
def test_an_existing_sqlite_database_is_migrated_with_its_rows(tmp_path, known):
    path = str(tmp_path / "central.db")
    make_legacy_database(path, ADDED_COLUMNS[:known])
    db = Database(path)
    try:
        assert version(db.conn) == MIGRATIONS[-1].version
        assert db.cp_secret("CP1") == "old-secret" and db.cp("CP1").location == "Old St"
        old = SessionStore(db).get("S1")
        assert (old.energy_kwh, old.cost, old.finalised) == (12.5, 3.75, True)
        assert SessionStore(db).ticket("S1") == b"ticket"
        assert db.conn.execute("SELECT kind FROM processed").fetchone()["kind"] == "done"
        columns = {row[1] for row in db.conn.execute("PRAGMA table_info(cps)")}
        assert {"stopped_by", "prev_secret_enc", "site_id"} <= columns  # older: added now
        db.set_cp_stopped("CP1", True, "maintenance", by="operator")  # a column it lacked
    finally:
        db.close()
    again = Database(path)  # opened again: nothing applied twice
    try:
        rows = again.conn.execute("SELECT version FROM schema_version"
                                  " WHERE component = 'central'").fetchall()
        assert [r["version"] for r in rows] == [m.version for m in MIGRATIONS]
        assert again.cp("CP1").stopped_by == "operator"
    finally:
        again.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        target = str(tmp_path / "m.db")
    else:
        target = request.getfixturevalue("pg_database")[0]
    opened = open_store(target)
    yield opened
    opened.close()


def test_migrations_apply_once_in_order_all_or_nothing(store: Store):
    applied: list[int] = []

    def step(n: int, sql: str):
        def apply(s: Store) -> None:
            applied.append(n)
            s.execute(sql)
        return apply

    first = [Migration(1, "t", step(1, "CREATE TABLE t (id INTEGER PRIMARY KEY)")),
             Migration(2, "t.name", step(2, "ALTER TABLE t ADD COLUMN name TEXT"))]
    assert migrate(store, first, component="test") == 2
    assert migrate(store, first, component="test") == 2
    assert applied == [1, 2]

    def broken(s: Store) -> None:
        s.execute("CREATE TABLE u (id INTEGER)")
        raise RuntimeError("half way")

    with pytest.raises(RuntimeError):
        migrate(store, [*first, Migration(3, "u", broken)], component="test")
    assert version(store, "test") == 2  # rolled back: neither the table nor the version
    assert store.execute("SELECT COUNT(*) AS n FROM t").fetchone()["n"] == 0
    migrate(store, [*first, Migration(3, "u", step(3, "CREATE TABLE u (id INTEGER)"))],
            component="test")
    assert version(store, "test") == 3 and applied == [1, 2, 3]
    with pytest.raises(RuntimeError, match="newer than this program"):
        migrate(store, first, component="test")  # a later version wrote this database
