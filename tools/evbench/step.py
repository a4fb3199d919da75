"""One load step: N charging points at 1 Hz through a fresh Central, then a reconnect storm.

1. provision N charge points (plus a few idle probe ones) in a fresh
   database and topic namespace; start Central in its own process;
2. connect every simulated charge point (auth, register); heartbeats start;
3. ramp: one driver per charge point asks to charge, paced at --ramp-rate;
4. measured window: all N send charging_data at 1 Hz; probe drivers ask
   for the idle charge points (request -> command under load); CPU and
   memory of Central, the broker and the generator are taken over it;
5. every session ends with a charge_completion; the step waits until the
   drivers got every forwarded record and every ticket (or the drain
   timeout: what is missing then counts as lost);
6. reconnect storm: SIGKILL Central, start it again, time until every
   charge point is registered again and Central lists it AVAILABLE.
"""
from __future__ import annotations

import asyncio
import gc
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException

from evbench.central import ADMIN_ERRORS, CentralProcess, provision
from evbench.drivers import DriverDesk, DriverEvents, provision_drivers
from evbench.figures import telemetry_figures
from evbench.fleet import Fleet
from evbench.metrics import Latencies, rate
from evbench.probes import Probes
from evbench.procmon import CpuWindow, MachineWindow
from evbench.producers import ProducerPool
from evkafka import names
from evkafka.client import admin, ensure_topics
from evwire import types as t
from evwire.trace import log

DEFAULT_GC = gc.get_threshold()
CPS_PER_PRODUCER = 2500


@dataclass
class StepOptions:
    cps: int
    window_s: float = 20.0
    ramp_rate: float = 500.0
    settle_s: float = 2.0
    probe_cps: int = 10
    probe_rate: float = 5.0
    probe_hold_s: float = 1.0
    drain_s: float = 30.0
    storm: bool = True
    log_level: str = "info"
    profile_path: Path | None = None
    broker_pid: int | None = None
    sessions: bool = True  # False: heartbeats only (the reconnect storm at a large N)


class Step:
    def __init__(self, opts: StepOptions, bootstrap: str, workdir: Path):
        self.opts = opts
        self.bootstrap = bootstrap
        tag = uuid.uuid4().hex[:8]
        os.environ[names.ENV_NAMESPACE] = f"evbench{tag}."  # Central inherits it
        self.driver_prefix = f"BD{tag}-"
        total = opts.cps + opts.probe_cps
        self.secrets = {f"CP{i:05d}": f"bench-secret-{tag}-{i}" for i in range(total)}
        workdir.mkdir(parents=True, exist_ok=True)
        # Every driver authenticates: the ramp's one per CP, the probes' one per request.
        probes = int(opts.probe_rate * opts.window_s) + 2 if opts.probe_cps else 0
        self.driver_secrets = {driver_id: f"bench-driver-{tag}-{driver_id}" for driver_id in
                               [f"{self.driver_prefix}{i}" for i in range(opts.cps)]
                               + [f"{self.driver_prefix}P{n}" for n in range(1, probes + 1)]}
        self.centrals = self._make_centrals(workdir, max_connections=total + 100)
        self.central = self.centrals[0]
        self.requested_at: dict = {}
        self.result: dict = {"cps": opts.cps, "probe_cps": opts.probe_cps,
                             "window_s": opts.window_s, "log_level": opts.log_level}

    async def run(self) -> dict:
        started = time.monotonic()
        try:
            await self._run()
        finally:
            for central in self.centrals:  # whatever happened: no Central left running
                central.close()
            await asyncio.to_thread(self._delete_topics)
            self.result["duration_s"] = round(time.monotonic() - started, 1)
        return self.result

    def _make_centrals(self, workdir: Path, max_connections: int) -> list[CentralProcess]:
        """Provision the step's charge points and drivers; the Central(s) under test."""
        provision(workdir / "central.db", self.secrets)
        provision_drivers(workdir / "central.db", self.driver_secrets)
        return [CentralProcess(workdir, self.bootstrap, max_connections=max_connections,
                               log_level=self.opts.log_level,
                               profile_path=self.opts.profile_path)]

    def _make_desk(self) -> DriverDesk:
        return DriverDesk("127.0.0.1", self.central.port, self.requested_at,
                          lambda d: self.driver_secrets.get(d, "not provisioned"))

    events_class = DriverEvents

    async def _run(self) -> None:
        await asyncio.to_thread(ensure_topics, self.bootstrap, names.all_topics())
        for central in self.centrals:
            await asyncio.to_thread(central.start)
        self.result["central_ready_s"] = round(self.central.ready_after_s or 0, 2)
        opts = self.opts
        producers = ProducerPool(self.bootstrap, names.cp_events(),
                                 count=-(-opts.cps // CPS_PER_PRODUCER))
        self.fleet = Fleet("127.0.0.1", self.central.port, self.secrets, producers,
                           self.requested_at,
                           centrals=[("127.0.0.1", central.port) for central in self.centrals])
        self.desk = self._make_desk()
        self.events = await asyncio.to_thread(
            self.events_class, self.bootstrap, names.driver_events(),
            names.namespace() + "evbench-drivers", self.driver_prefix)
        try:
            connect_s = await self.fleet.connect_all(concurrency=500,
                                                     timeout=60 + opts.cps / 50)
            self.result["connect_s"] = round(connect_s, 2)
            # The generator, like Central, must not stall in full garbage collections
            # (100+ ms each with thousands of connections): it would delay its own ticks.
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 100)
            self.events.start()
            self.fleet.start_ticking()
            if opts.sessions:
                await self.desk.open()
                await self._ramp()
                await asyncio.sleep(opts.settle_s)
                await self._window()
                await self._drain(producers)
            else:
                await self._heartbeats_only()
            if opts.storm:
                self.result["storm"] = await self._storm()
        finally:
            gc.unfreeze()  # this step's fleet may go now
            gc.set_threshold(*DEFAULT_GC)
            await self.fleet.close()
            self.desk.close()
            await asyncio.to_thread(self.events.stop)
            self.result["producer_left_unsent"] = await asyncio.to_thread(producers.close)
            exits = [await asyncio.to_thread(central.stop) for central in self.centrals]
            self.result["central_exit"] = exits[0] if len(exits) == 1 else exits
            self.result["central_log_errors"] = self._central_errors()

    async def _ramp(self) -> None:
        charging = self.fleet.cps[:self.opts.cps]
        latencies = Latencies()
        loop = asyncio.get_running_loop()
        began = loop.time()
        tasks = []
        for i, cp in enumerate(charging):
            await asyncio.sleep(max(0.0, began + i / self.opts.ramp_rate - loop.time()))
            tasks.append(asyncio.create_task(
                self.desk.charge(cp.cp_id, f"{self.driver_prefix}{i}", latencies)))
        self.ramp_sessions = [s for s in await asyncio.gather(*tasks) if s]
        ramp_s = loop.time() - began
        deadline = time.monotonic() + 30
        while sum(1 for cp in charging if cp.session) < len(self.ramp_sessions):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        self.result["ramp"] = {
            "requested": len(charging), "accepted": len(self.ramp_sessions),
            "charging": sum(1 for cp in charging if cp.session),
            "refused": dict(self.desk.refused), "seconds": round(ramp_s, 2),
            "requests_per_s": rate(len(charging), ramp_s),
            "request_to_command": latencies.summary()}

    async def _window(self) -> None:
        opts = self.opts
        probes = Probes(self.fleet, self.desk, self.events, self.fleet.cps[opts.cps:],
                        self.driver_prefix, opts.probe_rate, opts.probe_hold_s)
        windows = self._start_windows()
        self.window_ms = (time.time() * 1000, 0.0)
        sent_before = len(self.fleet.sent_ids)
        if opts.probe_cps:
            await probes.run(opts.window_s)
        else:
            await asyncio.sleep(opts.window_s)
        self.window_ms = (self.window_ms[0], time.time() * 1000)
        self.sent_in_window = len(self.fleet.sent_ids) - sent_before
        self._stop_windows(windows)
        await probes.finish(timeout=30)
        self.result["probes"] = probes.summary()
        self.probe_sessions = probes.sessions

    async def _heartbeats_only(self) -> None:
        """No sessions: what N connected charge points cost with their heartbeats alone."""
        await asyncio.sleep(self.opts.settle_s)
        windows = self._start_windows()
        await asyncio.sleep(self.opts.window_s)
        self._stop_windows(windows)
        self.result["heartbeats_only"] = True

    def _start_windows(self) -> dict:
        self.fleet.heartbeat_rtt.clear()
        self.fleet.tick_lag.clear()
        windows = {**{f"central{i}": CpuWindow(central.pid).start()
                      for i, central in enumerate(self.centrals[1:], 2) if central.alive()},
                   "central": CpuWindow(self.central.pid).start(),
                   "generator": CpuWindow(os.getpid()).start(),
                   "machine": MachineWindow().start()}
        if self.opts.broker_pid:
            windows["broker"] = CpuWindow(self.opts.broker_pid).start()
        return windows

    def _stop_windows(self, windows: dict) -> None:
        for name, window in windows.items():
            self.result[name] = window.stop()
        self.result["heartbeat_rtt"] = self.fleet.heartbeat_rtt.summary()
        self.result["generator"]["tick_lag"] = self.fleet.tick_lag.summary()

    async def _drain(self, producers: ProducerPool) -> None:
        self.fleet.telemetry_on = False
        self.fleet.complete_all()
        await asyncio.to_thread(producers.flush, 30)
        tickets = set(self.ramp_sessions) | set(self.probe_sessions)
        began = time.monotonic()
        while time.monotonic() - began < self.opts.drain_s:
            if (len(self.events.data_ids) >= len(self.fleet.sent_ids)
                    and tickets <= self.events.tickets):
                break
            await asyncio.sleep(0.1)
        self.result["drain_s"] = round(time.monotonic() - began, 2)
        self.result["telemetry"] = telemetry_figures(self.fleet.sent_ids, self.events,
                                                     self.window_ms, self.sent_in_window,
                                                     producers)
        self.result["tickets"] = {"expected": len(tickets),
                                  "received": len(tickets & self.events.tickets)}
        self.result["drivers"] = len(tickets)
        self.result["generator"].update(reconnects=self.fleet.reconnects,
                                        silence_drops=self.fleet.silence_drops)

    async def _storm(self) -> dict:
        """Central killed and started again: time until every CP is registered again."""
        self.central.kill()
        restart = time.monotonic()
        starting = asyncio.create_task(asyncio.to_thread(self.central.start))
        timeout = 60 + self.opts.cps / 50
        try:
            await self.fleet.wait_registered(restart, timeout)
            complete = True
        except TimeoutError:
            complete = False
        await starting
        times = [cp.registered_at - restart for cp in self.fleet.cps
                 if cp.registered_at is not None and cp.registered_at >= restart]
        statuses = Counter(cp.cp_status for cp in self.fleet.cps
                           if cp.registered_at is not None and cp.registered_at >= restart)
        storm = {"cps": len(self.fleet.cps), "complete": complete,
                 "central_ready_s": round(self.central.ready_after_s or 0, 2),
                 "all_registered_s": round(max(times), 2) if complete and times else None,
                 "registered": len(times), "register_status": dict(statuses)}
        self.result["storm"] = storm
        try:
            listed = Counter(cp["status"]
                             for cp in await asyncio.to_thread(self.central.list_cps))
        except ADMIN_ERRORS as exc:
            storm.update(listed_by_central=None, all_available=False, list_error=str(exc))
            return storm
        storm.update(listed_by_central=dict(listed),
                     all_available=listed.get(t.CP_AVAILABLE, 0) == len(self.fleet.cps))
        return storm

    def _delete_topics(self) -> None:
        """The local broker keeps every record in memory: free this step's before the next."""
        client = admin(self.bootstrap)
        for future in client.delete_topics(names.all_topics(), operation_timeout=10).values():
            try:
                future.result(15)
            except KafkaException as exc:
                log("warning", f"could not delete a topic of the step: {exc}")

    def _central_errors(self) -> int:
        count = 0
        for proc in (p for central in self.centrals for p in central.group.procs):
            try:
                with open(proc.log_path, "rb") as log:
                    count += sum(1 for line in log if line.startswith(b"<3>"))
            except OSError:
                pass
        return count
