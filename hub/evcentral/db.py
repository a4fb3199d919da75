"""Central's SQLite database: schema, transactions, charge points, drivers, nonces.

WAL mode so the provisioning CLI can write while Central runs; synchronous=FULL
because a finalised session must survive a power cut once its Kafka offset is
committed. Sessions and processed message ids live in session_store.py.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evcentral.secrets_box import SecretBox, SecretBoxError

SCHEMA = """
CREATE TABLE IF NOT EXISTS cps (
    cp_id         TEXT PRIMARY KEY,
    location      TEXT NOT NULL DEFAULT '',
    max_kw        REAL NOT NULL DEFAULT 11.0,
    price_per_kwh REAL,              -- NULL: Central's --price-per-kwh
    secret_enc    BLOB NOT NULL,     -- see secrets_box.py
    stopped       INTEGER NOT NULL DEFAULT 0,
    stop_reason   TEXT,
    created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sites (    -- see sites.py: a power limit shared by its CPs
    site_id    TEXT PRIMARY KEY,
    max_kw     REAL NOT NULL,
    min_kw     REAL NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS drivers (
    driver_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    card_uid   TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    secret_enc BLOB                -- see secrets_box.py; NULL: provisioned before credentials
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id      TEXT PRIMARY KEY,
    request_id      TEXT NOT NULL UNIQUE,  -- message_id of the request that opened it
    cp_id           TEXT NOT NULL,
    driver_id       TEXT NOT NULL,
    origin          TEXT NOT NULL,         -- socket, kafka or local (walk-up at the CP)
    status          TEXT NOT NULL,         -- starting active interrupted | completed failed closed
    price_per_kwh   REAL NOT NULL,
    max_kw          REAL NOT NULL,
    energy_kwh      REAL NOT NULL DEFAULT 0,
    cost            REAL NOT NULL DEFAULT 0,
    rate_kw         REAL NOT NULL DEFAULT 0,
    meter_start_kwh REAL,
    meter_stop_kwh  REAL,
    reason          TEXT,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    updated_at      INTEGER NOT NULL,
    finalised       INTEGER NOT NULL DEFAULT 0,
    ticket_sent     INTEGER NOT NULL DEFAULT 0,
    ticket          BLOB                   -- CBOR completion forwarded to the driver
);
CREATE INDEX IF NOT EXISTS sessions_by_driver ON sessions (driver_id, started_at);
CREATE INDEX IF NOT EXISTS sessions_live ON sessions (finalised, cp_id);
CREATE TABLE IF NOT EXISTS processed (
    message_id TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    nonce   TEXT PRIMARY KEY,
    cp_id   TEXT NOT NULL,
    seen_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_by_age ON nonces (seen_at);
CREATE TABLE IF NOT EXISTS audit (     -- see audit.py
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    address TEXT NOT NULL,
    who     TEXT NOT NULL,
    action  TEXT NOT NULL,
    result  TEXT NOT NULL,
    detail  TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (  -- see dead_letters.py: a bounded copy for admin
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    source_topic     TEXT NOT NULL,
    source_partition INTEGER NOT NULL,
    source_offset    INTEGER NOT NULL,
    record_key       TEXT,
    value            BLOB,
    UNIQUE (source_topic, source_partition, source_offset)
);
"""

# Columns added after a table was first created: a database made by an earlier
# version gets them at open (CREATE TABLE IF NOT EXISTS leaves its tables as they
# were). Additive only, so the order of the entries does not matter; new tables
# go in SCHEMA above. One entry per column: (table, column, declaration).
ADDED_COLUMNS: list[tuple[str, str, str]] = [
    ("drivers", "secret_enc", "BLOB"),
    ("cps", "site_id", "TEXT"),  # sites.py: NULL = not in a site, not load managed
    ("dead_letters", "value_size", "INTEGER"),  # the whole value's size (value: a prefix)
    # The operator's --max-kw: a CP's own registration may lower its max power, never
    # raise it above this (the dispute check and site shares trust max_kw). NULL: none.
    ("cps", "max_kw_ceiling", "REAL"),
    # Central bills energy x its own price; the CP's total_cost is kept for comparison,
    # and a session whose energy its CP's power cannot explain is `disputed` (sessions.py)
    ("sessions", "cp_cost", "REAL"),
    ("sessions", "dispute_reason", "TEXT"),
    # A rotated CP secret stays valid until prev_secret_until (unix s), so that records
    # the Monitor signed before the rotation (in its outbox, in Kafka) are still billed.
    ("cps", "prev_secret_enc", "BLOB"),  # see secrets_box.py, like secret_enc
    ("cps", "prev_secret_until", "REAL"),
    # Who stopped a stopped CP (operations.py): `operator` (stop CP1) or `stop_all`, so
    # resume-all reopens only what stop-all closed, never a CP stopped for its own reason.
    ("cps", "stopped_by", "TEXT"),
]


def add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, column, declaration in ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


class ProvisioningError(Exception):
    """An operator's provisioning request cannot be done (text says why)."""


@dataclass
class CpRecord:
    cp_id: str
    location: str
    max_kw: float
    price_per_kwh: float | None
    stopped: bool
    stop_reason: str | None
    stopped_by: str | None = None  # operations.STOPPED_BY_*; None when in service


@dataclass
class DriverRecord:
    driver_id: str
    name: str
    card_uid: str | None


def now_s() -> int:
    return int(time.time())


class Database:
    def __init__(self, path: str | Path):
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        add_missing_columns(self.conn)
        self.box = SecretBox.for_database(self.path)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- charge points -------------------------------------------------------
    def add_cp(self, cp_id: str, secret: str, location: str = "", max_kw: float = 11.0,
               price_per_kwh: float | None = None, max_kw_ceiling: float | None = None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO cps (cp_id, location, max_kw, price_per_kwh, secret_enc, created_at,"
                " max_kw_ceiling) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (cp_id, location, max_kw, price_per_kwh, self.box.encrypt(secret), now_s(),
                 max_kw_ceiling),
            )

    def update_cp(self, cp_id: str, location: str | None = None, max_kw: float | None = None,
                  price_per_kwh: float | None = None, secret: str | None = None,
                  old_secret_grace_s: float = 0.0) -> None:
        """Change what is given; a new secret keeps the old one valid for
        old_secret_grace_s seconds more (0: the old one stops at once)."""
        changes: dict[str, object] = {}
        if location is not None:
            changes["location"] = location
        if max_kw is not None:
            changes["max_kw"] = max_kw
            changes["max_kw_ceiling"] = max_kw
        if price_per_kwh is not None:
            changes["price_per_kwh"] = price_per_kwh
        if not changes and secret is None:
            return
        with self.transaction() as c:
            if secret is not None:
                changes.update(self._rotation(c, cp_id, secret, old_secret_grace_s))
            if not changes:
                return
            assignments = ", ".join(f"{name} = ?" for name in changes)
            c.execute(f"UPDATE cps SET {assignments} WHERE cp_id = ?", (*changes.values(), cp_id))

    def _rotation(self, c: sqlite3.Connection, cp_id: str, secret: str,
                  grace_s: float) -> dict[str, object]:
        """The columns that give cp_id `secret`, the current one kept for grace_s."""
        row = c.execute("SELECT secret_enc FROM cps WHERE cp_id = ?", (cp_id,)).fetchone()
        changes: dict[str, object] = {"secret_enc": self.box.encrypt(secret)}
        if row is None:
            return changes
        try:
            unchanged = self.box.decrypt(bytes(row["secret_enc"])) == secret
        except SecretBoxError:
            unchanged = False  # unreadable: nothing worth keeping
            grace_s = 0.0
        if unchanged:
            return {}  # the same secret again: an earlier rotation's grace stands
        if grace_s > 0:
            # The old blob as it is: encrypted with the same key, as secret_enc was.
            changes.update(prev_secret_enc=bytes(row["secret_enc"]),
                           prev_secret_until=time.time() + grace_s)
        else:
            changes.update(prev_secret_enc=None, prev_secret_until=None)
        return changes

    def remove_cp(self, cp_id: str) -> None:
        with self.transaction() as c:
            live = c.execute("SELECT session_id FROM sessions WHERE cp_id = ? AND finalised = 0",
                             (cp_id,)).fetchone()
            if live is not None:
                raise ProvisioningError(
                    f"{cp_id} has a session in progress ({live['session_id']}): "
                    "let it finish or close it with `evcharge admin close-session`")
            if c.execute("DELETE FROM cps WHERE cp_id = ?", (cp_id,)).rowcount == 0:
                raise ProvisioningError(f"unknown charge point {cp_id}")

    def cp(self, cp_id: str) -> CpRecord | None:
        row = self.conn.execute("SELECT * FROM cps WHERE cp_id = ?", (cp_id,)).fetchone()
        return None if row is None else _cp_record(row)

    def cps(self) -> list[CpRecord]:
        return [_cp_record(r) for r in self.conn.execute("SELECT * FROM cps ORDER BY cp_id")]

    def cp_secret(self, cp_id: str) -> str | None:
        row = self.conn.execute("SELECT secret_enc FROM cps WHERE cp_id = ?", (cp_id,)).fetchone()
        return None if row is None else self.box.decrypt(bytes(row["secret_enc"]))

    def cp_previous_secret(self, cp_id: str) -> tuple[str, float] | None:
        """(the secret before the last rotation, unix time its grace ends), or None.
        The caller compares the deadline with the time it verifies (it may cache this)."""
        row = self.conn.execute("SELECT prev_secret_enc, prev_secret_until FROM cps"
                                " WHERE cp_id = ?", (cp_id,)).fetchone()
        if row is None or row["prev_secret_enc"] is None or row["prev_secret_until"] is None:
            return None
        if row["prev_secret_until"] <= time.time():
            return None
        return self.box.decrypt(bytes(row["prev_secret_enc"])), float(row["prev_secret_until"])

    def set_cp_registration(self, cp_id: str, location: str | None, max_kw: float) -> float:
        """Store what the CP says of itself; returns the max power Central will use: the
        declared one, capped by the operator's --max-kw if it gave one."""
        with self.transaction() as c:
            c.execute("UPDATE cps SET max_kw = MIN(?1, COALESCE(max_kw_ceiling, ?1)),"
                      " location = COALESCE(?2, location) WHERE cp_id = ?3",
                      (max_kw, location or None, cp_id))
            row = c.execute("SELECT max_kw FROM cps WHERE cp_id = ?", (cp_id,)).fetchone()
        return float(row["max_kw"]) if row is not None else max_kw

    def set_cp_stopped(self, cp_id: str, stopped: bool, reason: str | None,
                       by: str | None = None) -> None:
        with self.transaction() as c:
            c.execute("UPDATE cps SET stopped = ?, stop_reason = ?, stopped_by = ?"
                      " WHERE cp_id = ?", (int(stopped), reason if stopped else None,
                                           by if stopped else None, cp_id))

    # -- drivers -------------------------------------------------------------
    def add_driver(self, driver_id: str, name: str = "", card_uid: str | None = None) -> None:
        try:
            with self.transaction() as c:
                c.execute("INSERT INTO drivers (driver_id, name, card_uid, created_at)"
                          " VALUES (?, ?, ?, ?)", (driver_id, name, card_uid, now_s()))
        except sqlite3.IntegrityError:
            if self.driver(driver_id) is not None:
                raise ProvisioningError(f"driver {driver_id} already exists") from None
            raise ProvisioningError(f"card {card_uid} already belongs to another driver") from None

    def remove_driver(self, driver_id: str) -> None:
        with self.transaction() as c:
            if c.execute("DELETE FROM drivers WHERE driver_id = ?", (driver_id,)).rowcount == 0:
                raise ProvisioningError(f"unknown driver {driver_id}")

    def driver(self, driver_id: str) -> DriverRecord | None:
        row = self.conn.execute("SELECT * FROM drivers WHERE driver_id = ?",
                                (driver_id,)).fetchone()
        return None if row is None else _driver_record(row)

    def driver_secret(self, driver_id: str) -> str | None:
        """The driver's secret; None for an unknown driver or one without a credential."""
        row = self.conn.execute("SELECT secret_enc FROM drivers WHERE driver_id = ?",
                                (driver_id,)).fetchone()
        if row is None or row["secret_enc"] is None:
            return None
        return self.box.decrypt(bytes(row["secret_enc"]))

    def set_driver_secret(self, driver_id: str, secret: str) -> None:
        with self.transaction() as c:
            if c.execute("UPDATE drivers SET secret_enc = ? WHERE driver_id = ?",
                         (self.box.encrypt(secret), driver_id)).rowcount == 0:
                raise ProvisioningError(f"unknown driver {driver_id}")

    def driver_by_card(self, card_uid: str) -> DriverRecord | None:
        row = self.conn.execute("SELECT * FROM drivers WHERE card_uid = ?",
                                (card_uid,)).fetchone()
        return None if row is None else _driver_record(row)

    def drivers(self) -> list[DriverRecord]:
        return [_driver_record(r)
                for r in self.conn.execute("SELECT * FROM drivers ORDER BY driver_id")]

    # -- auth nonces ---------------------------------------------------------
    def use_nonce(self, nonce: str, cp_id: str, max_age_s: int) -> bool:
        """Record a nonce; False if it was already used. Prunes nonces past max_age_s."""
        now = now_s()
        with self.transaction() as c:
            c.execute("DELETE FROM nonces WHERE seen_at < ?", (now - max_age_s,))
            try:
                c.execute("INSERT INTO nonces (nonce, cp_id, seen_at) VALUES (?, ?, ?)",
                          (nonce, cp_id, now))
            except sqlite3.IntegrityError:
                return False
        return True


def _cp_record(row: sqlite3.Row) -> CpRecord:
    return CpRecord(row["cp_id"], row["location"], row["max_kw"], row["price_per_kwh"],
                    bool(row["stopped"]), row["stop_reason"], row["stopped_by"])


def _driver_record(row: sqlite3.Row) -> DriverRecord:
    return DriverRecord(row["driver_id"], row["name"], row["card_uid"])
