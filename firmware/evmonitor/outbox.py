"""The durable telemetry outbox: SQLite on the Pi's disk, in arrival order.

charging_data and charge_completion are stored (with the Engine's exact CBOR
payload) before anything else happens to them; the Kafka forwarder replays
rows in `seq` order and deletes a row only when the broker confirmed it.
Completions are committed with synchronous=FULL (they are the bill and the
Engine forgets them once acked); samples with NORMAL, which survives a
Monitor crash though not a power cut, a loss the catalogue allows.

Over `bound` rows, older charging_data of each session are thinned to every
`keep_every`-th (the newest always kept); completions are never removed.
"""
from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from evwire import types as t

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    stored_at  REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_session ON outbox (kind, session_id, seq);
"""

# Rank each session's samples newest-first; keep rank 1 and every keep_every-th.
THIN_SQL = """
DELETE FROM outbox WHERE seq IN (
    SELECT seq FROM (
        SELECT seq, ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY seq DESC) AS rank
        FROM outbox WHERE kind = ? AND seq > ?
    ) WHERE rank > 1 AND (rank - 1) % ? != 0
)
"""


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or written (disk full, permissions...)."""


def prepare_directory(path: str) -> None:
    """Make sure the outbox's directory exists, without leaving root-owned state behind.

    The unit runs the Monitor as the evcharge user and systemd creates its state
    directory (StateDirectory=evcharge: /var/lib/evcharge, owned by evcharge). Run
    as root, the Monitor would create that directory root-owned, and the service
    could not write there afterwards: so root refuses instead. Anyone else may create
    a missing directory, for its own user only (0700)."""
    parent = Path(path).parent
    if parent.is_dir():
        return
    if parent.exists():
        raise OutboxError(f"cannot open outbox {path}: {parent} is not a directory")
    if os.geteuid() == 0:
        raise OutboxError(
            f"cannot open outbox {path}: {parent} does not exist, and running as root the "
            f"Monitor does not create it (root-owned, the service could not use it): run "
            f"it as the evcharge user through the evcharge-monitor unit, whose "
            f"StateDirectory= creates /var/lib/evcharge, or pass --outbox in an existing directory")
    missing = [d for d in (parent, *parent.parents) if not d.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs, left as it is
        directory.chmod(0o700)  # whatever the umask of an in-process caller


@dataclass(frozen=True)
class Row:
    seq: int
    kind: str
    message_id: str
    payload: bytes


class Outbox:
    def __init__(self, path: str, bound: int = 10000, keep_every: int = 10):
        self.path = path
        self.bound = bound
        self.keep_every = keep_every
        self.thinned = 0
        try:
            if path != ":memory:":
                prepare_directory(path)
            # Autocommit: each statement is its own transaction, committed on return.
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)
            self.depth = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc

    def add(self, msg: dict, payload: bytes) -> bool:
        """Store one record durably; False if this message_id is already waiting.

        Raises OutboxError if the write failed: the caller must then not ack.
        """
        kind = msg["type"]
        completion = kind == t.CHARGE_COMPLETION
        try:
            if completion:
                self._db.execute("PRAGMA synchronous=FULL")
            cur = self._db.execute(
                "INSERT OR IGNORE INTO outbox (message_id, kind, session_id, payload, stored_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (msg["message_id"], kind, msg["session_id"], bytes(payload), time.time()))
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox write failed: {exc}") from exc
        finally:
            if completion:
                self._set_normal()
        self.depth += cur.rowcount
        return cur.rowcount == 1

    def _set_normal(self) -> None:
        try:
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            pass  # staying at FULL is only slower

    def thin(self, protect_upto: int = 0) -> int:
        """If over the bound, thin older samples (rows after `protect_upto`); rows removed."""
        if self.depth <= self.bound:
            return 0
        try:
            cur = self._db.execute(THIN_SQL, (t.CHARGING_DATA, protect_upto, self.keep_every))
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox thinning failed: {exc}") from exc
        self.depth -= cur.rowcount
        self.thinned += cur.rowcount
        return cur.rowcount

    def after(self, seq: int, limit: int) -> list[Row]:
        """Up to `limit` rows with a larger seq, oldest first."""
        rows = self._db.execute(
            "SELECT seq, kind, message_id, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit)).fetchall()
        return [Row(*r) for r in rows]

    def delete(self, seqs: list[int]) -> None:
        if not seqs:
            return
        try:
            self._db.execute("BEGIN")
            cur = self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutboxError(f"outbox delete failed: {exc}") from exc
        self.depth -= cur.rowcount

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT kind, COUNT(*) FROM outbox GROUP BY kind").fetchall()
        return dict(rows)

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            pass
