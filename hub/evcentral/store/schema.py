"""Central's schema as it was before versioned migrations: migration 1 (migrations.py).

Written in SQLite's types; dialect.pg_ddl gives PostgreSQL's. Frozen: every later
change to the schema is a new entry at the end of migrations.MIGRATIONS.
"""
from __future__ import annotations

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

# Columns added after a table was first created, before versioned migrations: a
# database made by an earlier version gets them in migration 1 (CREATE TABLE IF NOT
# EXISTS leaves its tables as they were). One entry per column: (table, column,
# declaration). Frozen, like SCHEMA: a new column or table is a new migration.
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
