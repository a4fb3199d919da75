"""CP leases in the shared database: which Central a CP's Monitor is connected to.

A CP belongs to the Central its Monitor is connected to. That Central writes a
lease row (owner = its --central-id) when the Monitor authenticates, renews all of
its rows every second, writes the CP's state when it changes, and deletes the row
when the Monitor leaves. A Central killed with -9 renews nothing: its rows expire
after LEASE_TTL_S and its CPs show DISCONNECTED elsewhere until their Monitors
reconnect to another Central, which takes the rows over at once (the connection is
the truth, not the row). A Central that finds one of its rows taken by another
has lost that CP (its Monitor moved): it closes its own stale connection.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from evcentral.db import Database
from evcentral.store import dialect

LEASE_TTL_S = 5.0  # five renewals missed: the owner is gone


@dataclass(frozen=True)
class Lease:
    cp_id: str
    owner: str
    state: str
    expires_at: float


class LeaseStore:
    def __init__(self, db: Database, owner: str, ttl: float = LEASE_TTL_S):
        self.db = db
        self.owner = owner
        self.ttl = ttl
        self._take = dialect.replace_into(db.conn.dialect, "cp_leases",
                                          ("cp_id", "owner", "state", "expires_at"), ("cp_id",))

    def take(self, cp_id: str, state: str) -> None:
        """This Central now holds the CP's Monitor connection, whoever held it before."""
        self.db.conn.execute(self._take, (cp_id, self.owner, state, time.time() + self.ttl))

    def set_state(self, cp_id: str, state: str) -> None:
        self.db.conn.execute("UPDATE cp_leases SET state = ? WHERE cp_id = ? AND owner = ?",
                             (state, cp_id, self.owner))

    def set_states(self, states: dict[str, str]) -> None:
        """Several CPs' states in one statement (rows another Central took are left)."""
        if states:
            self.db.conn.executemany(
                "UPDATE cp_leases SET state = ? WHERE cp_id = ? AND owner = ?",
                [(state, cp_id, self.owner) for cp_id, state in states.items()])

    def release(self, cp_id: str) -> None:
        self.db.conn.execute("DELETE FROM cp_leases WHERE cp_id = ? AND owner = ?",
                             (cp_id, self.owner))

    def renew(self, held: set[str]) -> set[str]:
        """Extend this Central's leases; returns the CPs of `held` whose row another
        Central has taken since (their Monitors moved there)."""
        conn = self.db.conn
        with conn.transaction():
            conn.execute("UPDATE cp_leases SET expires_at = ? WHERE owner = ?",
                         (time.time() + self.ttl, self.owner))
            mine = {row["cp_id"] for row in
                    conn.execute("SELECT cp_id FROM cp_leases WHERE owner = ?", (self.owner,))}
        return {cp_id for cp_id in held if cp_id not in mine}

    def owner_of(self, cp_id: str) -> Lease | None:
        """The CP's live lease, if any (expired ones are nobody's)."""
        row = self.db.conn.execute("SELECT * FROM cp_leases WHERE cp_id = ? AND expires_at > ?",
                                   (cp_id, time.time())).fetchone()
        return _lease(row) if row is not None else None

    def others(self) -> dict[str, Lease]:
        """The live leases of the other Centrals, by CP."""
        rows = self.db.conn.execute("SELECT * FROM cp_leases WHERE owner <> ? AND expires_at > ?",
                                    (self.owner, time.time()))
        return {row["cp_id"]: _lease(row) for row in rows}

    def drop_all(self) -> None:
        """At a clean shutdown: this Central's CPs are free at once, not after the TTL."""
        self.db.conn.execute("DELETE FROM cp_leases WHERE owner = ?", (self.owner,))


def _lease(row) -> Lease:
    return Lease(row["cp_id"], row["owner"], row["state"], float(row["expires_at"]))
