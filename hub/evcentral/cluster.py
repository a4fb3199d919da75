"""Several active Centrals on one PostgreSQL database and one Kafka cluster.

Every Central accepts any Monitor and any driver. A CP belongs to the Central its
Monitor is connected to (evcentral.leases); the others show the state its owner
wrote and route commands for it to the owner (evcentral.relay). Telemetry is
divided by Kafka's consumer group, so a session's records may be handled by any
Central: the database is the truth for sessions (finalised exactly once there),
and every second each Central brings its copies of the live sessions in line with
it (Sessions.sync_from_store).

With SQLite (one Central) none of this runs: Cluster.enabled is False.
"""
from __future__ import annotations

import asyncio

from evcentral.leases import LeaseStore
from evcentral.registry import ChargePoint, Registry
from evcentral.session_sync import sync_from_store
from evcentral.sessions import Sessions
from evcentral.store.errors import TRANSIENT_ERRORS
from evwire import make
from evwire import types as t
from evwire.compat import unix_time
from evwire.trace import log

SYNC_INTERVAL_S = 1.0
# How often a Central reads the operator's stops and resumes from the database for the
# CPs it holds: the web console or a stop-all at another Central wrote them there.
OPERATOR_SYNC_EVERY = 2  # syncs


class Cluster:
    def __init__(self, registry: Registry, sessions: Sessions, central_id: str,
                 enabled: bool):
        self.registry = registry
        self.sessions = sessions
        self.central_id = central_id
        self.enabled = enabled
        self.leases = LeaseStore(registry.db, central_id) if enabled else None
        self._syncs = 0
        # CP states to write with the next sync (one statement for all, not one per
        # change: a thousand Monitors connecting at once would each cost a round trip).
        self._states: dict[str, str] = {}
        if enabled:
            registry.cluster = self

    # -- the registry's hooks --------------------------------------------------------
    def attached(self, cp: ChargePoint) -> None:
        """A Monitor authenticated here: the CP is this Central's now."""
        if self.leases is not None:
            self.registry.remote.pop(cp.cp_id, None)
            self._quietly(self.leases.take, cp.cp_id, self.registry.status_of(cp))

    def detached(self, cp: ChargePoint) -> None:
        if self.leases is not None:
            self._quietly(self.leases.release, cp.cp_id)

    def state_changed(self, cp: ChargePoint) -> None:
        if self.leases is not None and cp.connection is not None:
            self._states[cp.cp_id] = cp.shown

    def moved_away(self, cp: ChargePoint) -> bool:
        """True if another Central holds the CP now (its Monitor moved there): this
        Central's DISCONNECTED is not news, the owner speaks for the CP."""
        if self.leases is None:
            return False
        try:
            lease = self.leases.owner_of(cp.cp_id)
        except TRANSIENT_ERRORS:
            return False
        if lease is not None and lease.owner != self.central_id:
            self.registry.remote[cp.cp_id] = (lease.owner, lease.state)
            return True
        return False

    def owner_elsewhere(self, cp_id: str) -> str | None:
        """The Central that holds this CP's Monitor, if not this one."""
        if self.leases is None:
            return None
        cp = self.registry.cps.get(cp_id)
        if cp is not None and cp.connection is not None:
            return None
        try:
            lease = self.leases.owner_of(cp_id)
        except TRANSIENT_ERRORS:
            return None
        return lease.owner if lease is not None and lease.owner != self.central_id else None

    # -- every second --------------------------------------------------------------------
    async def run(self) -> None:
        while self.enabled:
            await asyncio.sleep(SYNC_INTERVAL_S)
            try:
                self.sync()
            except TRANSIENT_ERRORS as exc:
                log("warning", f"cluster: database busy or away ({exc}); retrying")

    def sync(self) -> None:
        assert self.leases is not None
        states, self._states = self._states, {}
        try:
            self.leases.set_states(states)
        except TRANSIENT_ERRORS:
            self._states = {**states, **self._states}  # written with the next sync
            raise
        held = {cp.cp_id for cp in self.registry.cps.values() if cp.connection is not None}
        for cp_id in self.leases.renew(held):
            cp = self.registry.cps[cp_id]
            if cp.connection is not None:
                log("warning", f"{cp_id}: its Monitor is now connected to another Central; "
                               "closing this one's stale connection")
                cp.connection.close("the charge point is connected to another Central")
        self.registry.remote = {cp_id: (lease.owner, lease.state)
                                for cp_id, lease in self.leases.others().items()}
        sync_from_store(self.sessions)
        self._syncs += 1
        if self._syncs % OPERATOR_SYNC_EVERY == 0:
            self.apply_operator_state()

    def apply_operator_state(self) -> None:
        """A stop or resume another Central stored for a CP this one holds (the web
        console's, a stop-all's): this Central tells the Monitor, as the asker could not.
        The driver was told by the Central that took the stop."""
        for rec in self.registry.db.cps():
            cp = self.registry.cps.get(rec.cp_id)
            if cp is None or cp.connection is None or not cp.registered \
                    or rec.stopped == cp.stopped:
                continue
            cp.apply_record(rec)
            if rec.stopped:
                command = make(t.STOP_CP_COMMAND, cp_id=cp.cp_id, reason=rec.stop_reason,
                               timestamp=unix_time())
            else:
                command = make(t.RESUME_CP_COMMAND, cp_id=cp.cp_id, timestamp=unix_time())
            log("info", f"{cp.cp_id}: {'stop' if rec.stopped else 'resume'} stored by another "
                        "Central: telling its Monitor")
            self.registry.send_to(cp, command)
            self.registry.note(cp, "operator stop" if rec.stopped else "operator resume")

    async def stop(self) -> None:
        """A clean shutdown frees this Central's CPs at once (not after the lease TTL)."""
        self.enabled = False
        if self.leases is not None:
            self._quietly(self.leases.drop_all)

    @staticmethod
    def _quietly(action, *args) -> None:
        try:
            action(*args)
        except TRANSIENT_ERRORS as exc:  # the next sync renews or corrects it
            log("warning", f"cluster: lease not written ({exc})")


def remote_state(registry: Registry, cp: ChargePoint) -> str | None:
    """The state another Central shows for a CP this one is not connected to."""
    if cp.connection is not None:
        return None
    held = registry.remote.get(cp.cp_id)
    return held[1] if held is not None else None

