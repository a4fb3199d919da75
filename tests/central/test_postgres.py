"""Central's database on PostgreSQL: exactly once, bounded failures, the CLI, and the
configuration refusals (a password in the URL, no --db-key-file). Central's behaviour
on PostgreSQL: test_charging.py and test_recovery.py run on both engines (conftest)."""
from __future__ import annotations

import os
import subprocess
import time

import psycopg
import pytest

from evcentral.db import Database
from evcentral.kafka_records import TRANSIENT
from evcentral.session_store import STATUS_COMPLETED, Session, SessionStore
from evcentral.store.dialect import replace_into
from evcentral.store.errors import INTEGRITY_ERRORS, TRANSIENT_ERRORS
from evharness.procs import bin_path


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path("evcharge"), *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def open_pg(pg_database) -> Database:
    url, key_file = pg_database
    return Database(url, key_file)


def session(session_id: str, request_id: str) -> Session:
    now = int(time.time())
    return Session(session_id, request_id, "CP1", "D1", "socket", "active", 0.30, 11.0, now, now)


def test_the_same_completion_twice_is_billed_once(pg_database):
    db = open_pg(pg_database)
    try:
        store = SessionStore(db)
        store.create(session("S1", "R1"))
        final = session("S1", "R1")
        final.status, final.energy_kwh, final.cost, final.finalised = STATUS_COMPLETED, 10.0, \
            3.0, True
        assert store.finalise(final, b"ticket", "M-completion", "charge_completion") is True
        final.energy_kwh, final.cost = 99.0, 29.7  # a replay must change nothing
        assert store.finalise(final, b"other", "M-completion", "charge_completion") is False
        billed = store.get("S1")
        assert (billed.energy_kwh, billed.cost, store.ticket("S1")) == (10.0, 3.0, b"ticket")
        store.record_processed("M-completion", "charge_completion")  # OR IGNORE: no error
        count = db.conn.execute("SELECT COUNT(*) AS n FROM processed WHERE message_id = ?",
                                ("M-completion",)).fetchone()["n"]
        assert count == 1
        with pytest.raises(INTEGRITY_ERRORS):  # the unique constraints hold on PostgreSQL
            db.conn.execute("INSERT INTO processed (message_id, kind, at) VALUES (?, ?, ?)",
                            ("M-completion", "x", 0))
        with pytest.raises(INTEGRITY_ERRORS):
            store.create(session("S2", "R1"))  # one session per request id
        assert store.get("S2") is None  # its transaction rolled back
        assert db.use_nonce("n1", "CP1", 60) and not db.use_nonce("n1", "CP1", 60)
    finally:
        db.close()


def test_newest_first_and_filters_on_postgresql(pg_database):
    db = open_pg(pg_database)
    try:
        store = SessionStore(db)
        for n in range(3):  # the same second: the insertion order decides
            store.create(session(f"S{n}", f"R{n}"))
        assert [s.session_id for s in store.recent(10)] == ["S2", "S1", "S0"]
        assert [s.session_id for s in store.find("CP1", None, None, None, 2)] == ["S2", "S1"]
        assert store.find(None, "D-other", None, None, 10) == []
        db.add_cp("CP1", "s1", max_kw_ceiling=11.0)
        assert db.set_cp_registration("CP1", "here", 22.0) == 11.0  # the operator's ceiling
    finally:
        db.close()


def test_dead_letter_replacement_is_an_upsert(pg_database):
    db = open_pg(pg_database)
    try:
        sql = replace_into(db.conn.dialect, "dead_letters",
                           ("at", "reason", "source_topic", "source_partition",
                            "source_offset", "value"),
                           ("source_topic", "source_partition", "source_offset"), renumber="id")
        with db.transaction() as c:
            c.executemany(sql, [(1, "bad", "cp-events", 0, 5, b"old"),
                                (1, "bad", "cp-events", 0, 6, b"x")])
        first = db.conn.execute("SELECT id FROM dead_letters WHERE source_offset = 5").fetchone()
        with db.transaction() as c:  # the topic was recreated: offset 5 holds another record
            c.executemany(sql, [(2, "worse", "cp-events", 0, 5, b"new")])
        rows = db.conn.execute("SELECT id, reason, value FROM dead_letters"
                               " WHERE source_offset = 5").fetchall()
        assert len(rows) == 1 and rows[0]["reason"] == "worse" and rows[0]["value"] == b"new"
        assert rows[0]["id"] > first["id"]  # renumbered, as SQLite's INSERT OR REPLACE does
    finally:
        db.close()


def test_a_lost_connection_is_transient_and_reopened(pg_database):
    db = open_pg(pg_database)
    try:
        db.add_cp("CP1", "s1")
        assert psycopg.OperationalError in TRANSIENT  # a Kafka batch is retried
        with psycopg.connect(pg_database[0], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        with pytest.raises(TRANSIENT_ERRORS):
            db.cp("CP1")
        assert db.cp_secret("CP1") == "s1"  # the next statement connects again
    finally:
        db.close()


def test_provisioning_cli_on_postgresql(pg_database, tmp_path):
    url, key_file = pg_database
    db_args = ("--db", url, "--db-key-file", str(key_file))
    secret_file = tmp_path / "cp.secret"
    secret_file.write_text("secret-of-CP1\n")
    secret_file.chmod(0o600)
    added = run("central", "add-cp", "CP1", "--secret-file", str(secret_file), *db_args)
    assert added.returncode == 0, added.stderr
    assert run("central", "add-driver", "D1", "--card", "C-1", *db_args).returncode == 0
    twice = run("central", "add-driver", "D1", *db_args)
    assert twice.returncode == 4 and "already exists" in twice.stderr
    listed = run("central", "list-cps", "--json", *db_args)
    assert '"cp_id": "CP1"' in listed.stdout, listed.stderr
    db = Database(url, key_file)
    try:
        assert db.cp_secret("CP1") == "secret-of-CP1" and db.driver_by_card("C-1") is not None
        stored = db.conn.execute("SELECT secret_enc FROM cps").fetchone()["secret_enc"]
        assert b"secret-of-CP1" not in bytes(stored)  # encrypted with --db-key-file's key
    finally:
        db.close()
    wrong_key = tmp_path / "other.key"
    wrong_key.write_text(os.urandom(32).hex())
    wrong_key.chmod(0o600)
    other = run("central", "list-cps", "--db", url, "--db-key-file", str(wrong_key))
    assert other.returncode == 0  # listing needs no secret; reading one with it would fail


def test_the_password_comes_from_pgpassfile_or_pgpassword(pg_database, tmp_path):
    url, key_file = pg_database
    empty = tmp_path / "empty.pgpass"
    empty.write_text("")
    empty.chmod(0o600)
    env = {"PGPASSFILE": str(empty), "PGPASSWORD": ""}
    refused = run("central", "list-cps", "--db", url, "--db-key-file", str(key_file), env=env)
    assert refused.returncode == 5 and "cannot open database" in refused.stderr
    from evharness.pgcluster import PASSWORD

    ok = run("central", "list-cps", "--db", url, "--db-key-file", str(key_file),
             env={**env, "PGPASSWORD": PASSWORD})
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("command", [
    ("central", "--listen", "127.0.0.1:0"),
    ("central", "add-cp", "CP1"),
])
def test_configuration_refusals(command, tmp_path):
    key_file = tmp_path / "db.key"
    key_file.write_text("00" * 32)
    key_file.chmod(0o600)
    with_password = run(*command, "--db", "postgresql://evcharge:hunter2@127.0.0.1:1/central",
                        "--db-key-file", str(key_file))
    assert with_password.returncode == 5, with_password.stderr
    assert with_password.stderr.count("\n") == 1 and "must not carry a password" in \
        with_password.stderr and "hunter2" not in with_password.stderr
    no_key = run(*command, "--db", "postgresql://evcharge@127.0.0.1:1/central")
    assert no_key.returncode == 5 and no_key.stderr.count("\n") == 1
    assert "needs --db-key-file" in no_key.stderr
    key_file.chmod(0o644)
    open_key = run(*command, "--db", "postgresql://evcharge@127.0.0.1:1/central",
                   "--db-key-file", str(key_file))
    assert open_key.returncode == 5 and "chmod 600" in open_key.stderr
    sqlite_key = run(*command, "--db", str(tmp_path / "c.db"), "--db-key-file", str(key_file))
    assert sqlite_key.returncode == 5 and "is for a postgresql://" in sqlite_key.stderr
