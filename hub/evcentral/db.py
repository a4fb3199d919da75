"""Central's database: transactions, charge points, drivers, nonces.

SQLite (a file, the default) or PostgreSQL (a postgresql:// URL): store/ gives both
one interface, and migrates the schema (store/migrations.py). Sessions and processed
message ids live in session_store.py.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evcentral.secrets_box import SecretBox, SecretBoxError
from evcentral.store.connection import Store, open_store
from evcentral.store.errors import INTEGRITY_ERRORS
from evcentral.store.migrations import migrate
from evcentral.store.target import check_target, is_postgres


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
    """target: a SQLite file (its secret-box key beside it, PATH.key) or a postgresql://
    URL without password (key_file: the secret-box key, required then). StoreConfigError
    if they do not go together; the engine's errors if it cannot be opened."""

    def __init__(self, target: str | Path, key_file: str | Path | None = None):
        self.path = str(target)  # the file, or the URL (it carries no password)
        check_target(self.path, key_file)
        if key_file is not None:
            self.box = SecretBox.for_key_file(key_file)  # before connecting: a config error
        self.conn: Store = open_store(self.path)
        try:
            migrate(self.conn)
            if key_file is None:
                self.box = SecretBox.for_database(self.path)
        except BaseException:
            self.conn.close()
            raise

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.path)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        with self.conn.transaction() as c:
            yield c

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

    def _rotation(self, c: Store, cp_id: str, secret: str,
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
            c.execute("UPDATE cps SET max_kw = CASE WHEN max_kw_ceiling < ? THEN max_kw_ceiling"
                      " ELSE ? END, location = COALESCE(?, location) WHERE cp_id = ?",
                      (max_kw, max_kw, location or None, cp_id))
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
        except INTEGRITY_ERRORS:
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
            # OR IGNORE, not a caught error: PostgreSQL aborts a transaction on one
            return c.execute("INSERT OR IGNORE INTO nonces (nonce, cp_id, seen_at)"
                             " VALUES (?, ?, ?)", (nonce, cp_id, now)).rowcount == 1


def _cp_record(row: Any) -> CpRecord:
    return CpRecord(row["cp_id"], row["location"], row["max_kw"], row["price_per_kwh"],
                    bool(row["stopped"]), row["stop_reason"], row["stopped_by"])


def _driver_record(row: Any) -> DriverRecord:
    return DriverRecord(row["driver_id"], row["name"], row["card_uid"])
