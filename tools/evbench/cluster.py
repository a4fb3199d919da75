"""Several Centrals on one PostgreSQL database and one Kafka cluster, as one load step.

A ClusterStep is an evbench.step.Step whose charge points are provisioned in a
fresh database of a private PostgreSQL cluster (evharness.pgcluster) and whose
Central is K `evcharge central` processes, each `--db postgresql://... --db-key-file F`
(and `--central-id cN` where Central has that flag: cluster mode), on ports of their
own. The simulated Monitors get every Central's address, as `--central A,B,C`: charge
point i starts at Central (i mod K), so the fleet is spread evenly, and moves to the
next after a lost link, as the Monitor does. A driver asks the Central its charge point
is connected to (`owner`) or, to exercise command routing, another one (`other`).

With `failover`, after the measured window one Central is killed (SIGKILL) while every
session runs, and the step times (from the kill) until every charge point it had is
registered at a surviving Central, and until every charging charge point's telemetry
(records created after the kill) reaches its driver again; then it drains as usual, so
losses and tickets are counted across the failover.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psutil

from evbench.central import ADMIN_ERRORS, CentralProcess, provision
from evbench.drivers import DriverDesk, DriverEvents, provision_drivers
from evbench.metrics import Latencies, summarise_ms
from evbench.step import Step, StepOptions
from evharness.pgcluster import PgCluster
from evharness.procs import bin_path
from evwire import loads

DRIVERS_AT = ("owner", "other")
TELEMETRY_BACK_TIMEOUT_S = 120.0  # a consumer group's session timeout (45 s) fits in it


def cluster_mode_available() -> bool:
    """Whether this Central takes --central-id (several ACTIVE Centrals on one database)."""
    done = subprocess.run([bin_path("evcharge"), "central", "--help"], capture_output=True,
                          text=True, timeout=60)
    return "--central-id" in done.stdout


class PgServer:
    """The run's private PostgreSQL cluster; $PGPASSFILE points at its pgpass for the
    children (Central takes the password from there: the URLs carry none)."""

    def __init__(self, workdir: Path):
        self.cluster = PgCluster.start()
        self.workdir = workdir
        self._old_passfile = os.environ.get("PGPASSFILE")
        os.environ["PGPASSFILE"] = str(self.cluster.pgpass)

    def new_database(self) -> tuple[str, Path]:
        """(URL of a fresh database, its --db-key-file)."""
        name = "bench" + uuid.uuid4().hex[:10]
        url = self.cluster.create_database(name)
        key_file = self.workdir / f"{name}.key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(os.urandom(32).hex() + "\n")
        return url, key_file

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.cluster.root / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def version(self) -> str:
        done = subprocess.run([str(self.cluster.bindir / "postgres"), "--version"],
                              capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    def stop(self) -> None:
        if self._old_passfile is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = self._old_passfile
        self.cluster.stop()


class TreeCpuWindow:
    """CPU (% of one core) of a process and its live children over a window: PostgreSQL
    works in one backend process per connection."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)

    def _seconds(self) -> float:
        total = 0.0
        for proc in [self.proc, *self.proc.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def start(self) -> TreeCpuWindow:
        self._cpu0, self._wall0 = self._seconds(), time.monotonic()
        return self

    def stop(self) -> dict:
        try:
            cpu = self._seconds() - self._cpu0
        except psutil.Error:
            return {"cpu_percent": None}
        return {"cpu_percent": round(100.0 * cpu / max(1e-6, time.monotonic() - self._wall0),
                                     1)}


class RoutedDesk:
    """One DriverDesk per Central; a charge request goes to its charge point's Central
    (`owner`) or to the next one (`other`: Central must route the start command)."""

    def __init__(self, step: ClusterStep, drivers_at: str):
        self.step, self.drivers_at = step, drivers_at
        self.desks = [DriverDesk("127.0.0.1", central.port, step.requested_at,
                                 lambda d: step.driver_secrets.get(d, "not provisioned"))
                      for central in step.centrals]

    @property
    def refused(self) -> Counter:
        return sum((desk.refused for desk in self.desks), Counter())

    @property
    def accepted(self) -> int:
        return sum(desk.accepted for desk in self.desks)

    async def open(self) -> None:
        for desk in self.desks:
            await desk.open()

    async def charge(self, cp_id: str, driver_id: str, recorder: Latencies) -> str | None:
        fleet = self.step.fleet
        at = fleet.at[fleet.by_id[cp_id].index]
        if self.drivers_at == "other":
            at = (at + 1) % len(self.desks)
        return await self.desks[at].charge(cp_id, driver_id, recorder)

    def close(self) -> None:
        for desk in self.desks:
            desk.close()


class FailoverEvents(DriverEvents):
    """DriverEvents that, once mark() is called, also note per charge point the first
    forwarded charging_data created after the mark, and the latency of every such record."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mark_ms: float | None = None
        self.first_after: dict[str, float] = {}  # cp_id -> arrival (ms) of its first record
        self.after: list[float] = []  # latencies (s) of the records created after the mark
        self._lock = threading.Lock()

    def mark(self, wall_ms: float) -> None:
        with self._lock:
            self.mark_ms = wall_ms

    def _take(self, value: bytes, arrived_ms: float) -> None:
        seen = len(self.data_ids)
        super()._take(value, arrived_ms)
        if self.mark_ms is None or len(self.data_ids) == seen:  # not a new charging_data
            return
        created_ms, _arrived = self.data[-1]
        if created_ms < self.mark_ms:
            return
        self.after.append((arrived_ms - created_ms) / 1000)
        cp_id = loads(value)["cp_id"]
        with self._lock:
            self.first_after.setdefault(cp_id, arrived_ms)


class ClusterStep(Step):
    events_class = FailoverEvents

    def __init__(self, opts: StepOptions, bootstrap: str, workdir: Path, pg: PgServer,
                 centrals: int, central_ids: bool, drivers_at: str = "owner",
                 failover: bool = False, connect_settle_s: float = 0.0):
        self.pg, self.count, self.central_ids = pg, centrals, central_ids
        self.drivers_at, self.failover = drivers_at, failover
        self.connect_settle_s = connect_settle_s
        super().__init__(opts, bootstrap, workdir)
        self.result.update(centrals=centrals, cluster_mode=central_ids, drivers_at=drivers_at,
                           connect_settle_s=connect_settle_s)

    def _make_centrals(self, workdir: Path, max_connections: int) -> list[CentralProcess]:
        url, key_file = self.pg.new_database()
        provision(url, self.secrets, key_file)
        provision_drivers(url, self.driver_secrets, key_file)
        centrals = []
        for i in range(1, self.count + 1):
            extra = ["--db-key-file", str(key_file)]
            if self.central_ids:
                extra += ["--central-id", f"c{i}"]
            centrals.append(CentralProcess(
                workdir / f"c{i}", self.bootstrap, max_connections, self.opts.log_level,
                profile_path=self.opts.profile_path if i == 1 else None,  # c1 only
                db=url, extra_args=tuple(extra), name=f"central-c{i}"))
        return centrals

    def _make_desk(self) -> RoutedDesk:  # type: ignore[override]
        return RoutedDesk(self, self.drivers_at)

    def _start_windows(self) -> dict:
        windows = super()._start_windows()
        pid = self.pg.postmaster_pid()
        if pid is not None:
            windows["postgres"] = TreeCpuWindow(pid).start()
        return windows

    def _stop_windows(self, windows: dict) -> None:
        super()._stop_windows(windows)
        self.result["connected_per_central"] = self._connected_per_central()

    def _connected_per_central(self) -> dict[str, int]:
        fleet = self.fleet
        per = Counter(f"c{fleet.at[cp.index] + 1}" for cp in fleet.cps
                      if cp.link is not None and cp.link.registered)
        return dict(sorted(per.items()))

    async def _ramp(self) -> None:
        """With connect_settle_s, the drivers wait that long after every CP registered:
        the sessions then measure steady running, not the end of the connect burst."""
        await asyncio.sleep(self.connect_settle_s)
        await super()._ramp()

    async def _window(self) -> None:
        await super()._window()
        if self.failover:
            self.result["failover"] = await self._kill_one()

    async def _kill_one(self) -> dict:
        """SIGKILL the last Central; time its charge points' move and the telemetry's return."""
        fleet, events = self.fleet, self.events
        assert isinstance(events, FailoverEvents)
        gone = len(self.centrals) - 1
        victim = self.centrals[gone]
        moved = [cp for cp in fleet.cps if cp.link is not None and cp.link.registered
                 and fleet.at[cp.index] == gone]
        charging = [cp for cp in fleet.cps if cp.session is not None]
        fleet.telemetry_unlinked = True  # as a Monitor's outbox: telemetry goes on
        kill_ms = time.time() * 1000
        events.mark(kill_ms)
        killed = time.monotonic()
        await asyncio.to_thread(victim.kill)
        timeout = 60 + len(moved) / 50
        loop = asyncio.get_running_loop()
        while loop.time() < killed + timeout and any(
                cp.registered_at is None or cp.registered_at < killed or not cp.link
                or not cp.link.registered for cp in moved):
            await asyncio.sleep(0.02)
        back = [cp.registered_at - killed for cp in moved
                if cp.registered_at is not None and cp.registered_at >= killed]
        where = Counter(f"c{fleet.at[cp.index] + 1}" for cp in moved
                        if cp.registered_at is not None and cp.registered_at >= killed)
        while (time.monotonic() < killed + TELEMETRY_BACK_TIMEOUT_S
               and any(cp.cp_id not in events.first_after for cp in charging)):
            await asyncio.sleep(0.05)
        first = events.first_after
        flows = [(first[cp.cp_id] - kill_ms) / 1000 for cp in charging if cp.cp_id in first]
        moved_ids = {cp.cp_id for cp in moved}
        flows_moved = [(first[c] - kill_ms) / 1000 for c in moved_ids if c in first]
        result = {
            "killed": f"c{gone + 1}", "cps_on_killed": len(moved),
            "reregistered": len(back), "registered_at": dict(where),
            "all_reregistered_s": round(max(back), 2) if len(back) == len(moved) and back
            else None,
            "reregistered_s": summarise_ms(back),
            "charging_cps": len(charging), "telemetry_back_cps": len(flows),
            "telemetry_back_all_s": round(max(flows), 2) if len(flows) == len(charging) and flows
            else None,
            "telemetry_back_moved_s": summarise_ms(flows_moved),
            "telemetry_back_others_s": summarise_ms(
                [(first[cp.cp_id] - kill_ms) / 1000 for cp in charging
                 if cp.cp_id in first and cp.cp_id not in moved_ids]),
            "latency_after_kill": summarise_ms(list(events.after)),
        }
        try:
            listed = await asyncio.to_thread(self.centrals[0].list_cps)
            result["listed_by_c1"] = dict(Counter(cp["status"] for cp in listed))
        except ADMIN_ERRORS as exc:
            result["listed_by_c1"] = f"not listed: {exc}"
        return result
