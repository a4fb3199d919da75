"""One chaos case: a fresh network, drivers charging, faults at chosen moments, settle, check.

Everything random comes from random.Random(f"{seed}/{case}"), so
`evcharge chaos --seed S --case K` plans case K of seed S again exactly (the
moments are watched in the processes' logs, so timing itself can differ a little).
"""
from __future__ import annotations

import glob
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from evharness.chaos import faults as F
from evharness.chaos import invariants as inv
from evharness.drivers import DriverRun, json_object
from evharness.network import Network
from evharness.spec import CpSpec, NetworkSpec

DRIVE_LIMIT_S = 45.0    # the drive phase ends after this even if a step never came
SETTLE_LIMIT_S = 60.0   # bounded wait for every session to end and every CP to recover
MAX_RETRIES = 3         # a driver whose request failed tries again once faults are restored
UNPLUG_AFTER_S = 15.0   # in settling: a car still charging (its driver gone) leaves


@dataclass
class SessionPlan:
    cp_id: str
    driver_id: str
    start_after_s: float
    mode: str                 # "kwh": the driver stops at a target; "unplug": the car leaves
    kwh: float = 0.0
    unplug_after_s: float = 0.0  # after the relay closed


@dataclass
class CasePlan:
    seed: int
    case: int
    runtime: str
    sessions: list[SessionPlan]
    faults: list[F.FaultPlan]

    @property
    def cp_ids(self) -> list[str]:
        return [s.cp_id for s in self.sessions]


def make_plan(seed: int, case: int, kinds: tuple[str, ...] = F.KINDS) -> CasePlan:
    rng = random.Random(f"{seed}/{case}")
    n = rng.randint(2, 4)
    runtime = rng.choice(("micropython", "cpython"))
    sessions = []
    for i in range(1, n + 1):
        mode = rng.choice(("kwh", "unplug"))
        sessions.append(SessionPlan(f"CP{i}", f"D{i}", round(rng.uniform(0.0, 2.5), 2), mode,
                                    kwh=round(rng.uniform(0.2, 0.6), 2),
                                    unplug_after_s=round(rng.uniform(1.5, 5.0), 2)))
    drivers = {s.cp_id: s.driver_id for s in sessions}
    return CasePlan(seed, case, runtime, sessions,
                    F.plan_faults(rng, [s.cp_id for s in sessions], drivers, kinds))


@dataclass
class Tracker:
    """What one session has shown so far: the moments faults wait for."""

    plan: SessionPlan
    run: DriverRun | None = None
    steps: dict[str, float] = field(default_factory=dict)  # step -> monotonic time seen
    closed_at: float | None = None
    session_id: str | None = None
    retries: int = 0           # a refused or failed request is tried again (MAX_RETRIES)



class CaseRun:
    def __init__(self, plan: CasePlan, workdir: Path, log=print):
        self.plan = plan
        self.workdir = workdir
        self.log = log
        self.rng = random.Random(f"{plan.seed}/{plan.case}/run")
        spec = NetworkSpec(workdir, cps=[CpSpec(c) for c in plan.cp_ids],
                           drivers=[s.driver_id for s in plan.sessions], runtime=plan.runtime)
        self.net = Network(spec)
        self.t0 = self.begin = time.monotonic()
        self.trackers = {s.cp_id: Tracker(s) for s in plan.sessions}
        self.pending = list(plan.faults)
        self.done: list[F.Injected] = []
        self.runs: dict[str, list[DriverRun]] = {s.driver_id: [] for s in plan.sessions}
        self.history: dict[str, list[dict]] = {}
        self.meter_before: dict[str, float] = {}
        self.result: dict = {}

    def now(self) -> float:
        return time.monotonic() - self.t0

    # ----- the case --------------------------------------------------------------
    def execute(self) -> dict:
        verdicts: list[inv.Verdict] = []
        error = None
        try:
            self.net.start()
            self.t0 = time.monotonic()
            self.meter_before = {cp: self.net.meter_kwh(cp) for cp in self.plan.cp_ids}
            self.drive()
            self.settle()
            verdicts = self.check()
        except Exception as exc:  # noqa: BLE001  (a case that breaks is reported, not fatal)
            error = f"{type(exc).__name__}: {exc}"
            self.log(traceback.format_exc())
        finally:
            procs = self.close()
        verdicts.append(inv.no_leftovers(procs))
        if error:
            verdicts.append(inv.Verdict("runner", False, error))
        return self.record(verdicts)

    def close(self) -> list[tuple[str, int, bool]]:
        for done in self.done:  # never leave a process stopped: SIGTERM would wait on it
            if done.plan.kind == "sigstop":
                F._signal_group(self.net, done.plan.target, F.signal.SIGCONT)
        self.net.close()
        time.sleep(0.3)
        return [(p.name, p.pid, p.alive()) for p in self.net.group.procs]

    # ----- drive: sessions and faults at their moments ---------------------------------
    def drive(self) -> None:
        deadline = time.monotonic() + DRIVE_LIMIT_S
        while time.monotonic() < deadline:
            for tracker in self.trackers.values():
                self.advance(tracker)
            self.fire_due()
            self.restore_due()
            if not any(d.active for d in self.done) and all(
                    self.finished(t) for t in self.trackers.values()):
                break
            time.sleep(0.05)
        for plan in list(self.pending):  # a step that never came: fire now, "late"
            self.fire(plan, "late")
        self.pending.clear()

    def advance(self, tr: Tracker) -> None:
        p, now = tr.plan, time.monotonic()
        if tr.run is None:
            if self.now() >= p.start_after_s:
                self.request(tr)
                tr.steps["start"] = now
            return
        events = tr.run.events()
        if tr.session_id is None and not tr.run.alive() and tr.retries < MAX_RETRIES and \
                not any(d.active for d in self.done) and self.open_session(p.cp_id) is None:
            tr.retries += 1  # the request failed (Central or Kafka away): try again
            self.request(tr)
            return
        if tr.session_id is None:
            tr.session_id = next((e["session_id"] for e in events
                                  if e.get("event") == "accepted"), None)
        gone = not tr.run.alive()  # killed, or failed: the session may go on without it
        if "charging" not in tr.steps and (any(e.get("event") == "progress" for e in events)
                                           or (gone and self.relay_closed(p.cp_id))):
            tr.steps["charging"] = now
        if "completion" not in tr.steps:
            if p.mode == "kwh" and any(e.get("event") == "stopping" for e in events):
                tr.steps["completion"] = now
            elif (p.mode == "unplug" or gone) and "charging" in tr.steps and \
                    now - tr.steps["charging"] >= p.unplug_after_s and self.unplug(p.cp_id):
                tr.steps["completion"] = now  # the car leaves (its driver's app is gone)
        if "completion" in tr.steps and "commit" not in tr.steps and self.completed(tr):
            tr.steps["commit"] = now
        if tr.closed_at is None and not tr.run.alive() and (
                tr.session_id is not None or tr.retries >= MAX_RETRIES
                or self.open_session(p.cp_id) is not None):
            tr.closed_at = now

    def request(self, tr: Tracker) -> None:
        p = tr.plan
        args = ["charge", p.cp_id] + (["--kwh", f"{p.kwh:g}"] if p.mode == "kwh" else [])
        tr.run = self.net.start_driver(p.driver_id, "--reconnect-grace", "120", *args)
        self.runs[p.driver_id].append(tr.run)

    def finished(self, tr: Tracker) -> bool:
        """Nothing more to watch: committed, or the driver ended with no session going on."""
        if "commit" in tr.steps:
            return True
        if tr.closed_at is None or tr.run is None:
            return False
        if tr.run.proc.popen.returncode == 0:
            return True
        rows = [r for r in self.net.db_sessions() if r["cp_id"] == tr.plan.cp_id]
        return not rows or rows[-1]["finalised"]

    def relay_closed(self, cp_id: str) -> bool:
        try:
            return bool(self.net.sim(cp_id, "status")["relay_closed"])
        except Exception:  # noqa: BLE001  (the simulator is down or stopped)
            return False

    def unplug(self, cp_id: str) -> bool:
        try:
            self.net.sim(cp_id, "unplug")
            return True
        except Exception:  # noqa: BLE001  (the simulator is down or stopped: try later)
            return False

    def completed(self, tr: Tracker) -> bool:
        """The completion seen in the Monitor's log (any of its lives), or the row final."""
        sid = tr.session_id or self.open_session(tr.plan.cp_id)
        if not sid:
            return False
        if any(r["session_id"] == sid and r["finalised"] for r in self.net.db_sessions()):
            return True
        for path in glob.glob(str(self.net.group.log_dir / f"monitor-{tr.plan.cp_id}*.log")):
            if f"session {sid} completed" in Path(path).read_text(errors="replace"):
                return True
        return False

    def open_session(self, cp_id: str) -> str | None:
        rows = [r for r in self.net.db_sessions() if r["cp_id"] == cp_id]
        return rows[-1]["session_id"] if rows else None

    def busy(self, plan: F.FaultPlan) -> bool:
        mine = F.processes_of(plan)
        return any(d.active and F.processes_of(d.plan) & mine for d in self.done)

    def fire_due(self) -> None:
        now = time.monotonic()
        for plan in list(self.pending):
            seen = self.trackers[plan.cp_id].steps.get(plan.step)
            if seen is not None and now >= seen + plan.delay_s and not self.busy(plan):
                self.pending.remove(plan)
                self.fire(plan, plan.step)

    def fire(self, plan: F.FaultPlan, step_seen: str) -> None:
        if self.busy(plan):
            self.restore_all()
        done = F.inject(self.net, plan, step_seen, self.now())
        self.done.append(done)
        self.log(f"  t={done.at_s:6.2f}s inject {plan.label()}"
                 + (f" [{step_seen}]" if step_seen != plan.step else "")
                 + (f" hold {plan.hold_s:.1f}s" if plan.hold_s else "")
                 + (f" ({'; '.join(done.notes)})" if done.notes else ""))

    def restore_due(self, force: bool = False) -> None:
        now = time.monotonic()
        for done in self.done:
            if done.active and (force or now >= done.restore_at):
                F.restore(self.net, done)
        self.measure_recovery()

    def restore_all(self) -> None:
        self.restore_due(force=True)

    def measure_recovery(self) -> None:
        """Time from the restore until Central sees the hit CPs (all, for a hub fault)
        AVAILABLE or CHARGING again."""
        waiting = [d for d in self.done if d.restored_at is not None and d.recovered_s is None]
        if not waiting:
            return
        states = self.states()
        if states is None:
            return
        for d in waiting:
            cps = [d.plan.cp_id] if d.plan.kind in ("kill_monitor", "kill_engine", "power_cut") \
                else self.plan.cp_ids
            if d.plan.kind in F.BROKER_KINDS and not self.kafka_flows(d):
                continue
            if all(states.get(cp) in ("AVAILABLE", "CHARGING") for cp in cps):
                d.recovered_s = round(time.monotonic() - (d.restore_at if d.plan.hold_s else
                                                          d.restored_at), 3)
                d.recovered_s = max(d.recovered_s, 0.0)

    def kafka_flows(self, d: F.Injected) -> bool:
        """After a broker fault: telemetry reaches Central again (a charging CP's live
        energy moved since the restore), or nothing is charging to tell."""
        try:
            live = {r["cp_id"]: (r.get("session") or {}).get("energy_consumed_kwh")
                    for r in self.net.cp_rows() if r.get("status") == "CHARGING"}
        except Exception:  # noqa: BLE001
            return False
        if d.energy_at_restore is None:
            d.energy_at_restore = live
        return not live or any(live[cp] != d.energy_at_restore.get(cp, live[cp]) for cp in live)

    def states(self) -> dict[str, str] | None:
        try:
            return self.net.cp_states()
        except Exception:  # noqa: BLE001  (Central down or stopped)
            return None

    # ----- settle -----------------------------------------------------------------
    def settle(self) -> None:
        self.restore_all()
        started = time.monotonic()
        deadline = started + SETTLE_LIMIT_S
        while time.monotonic() < deadline:
            self.measure_recovery()
            for tr in self.trackers.values():
                self.advance(tr)
                gone = tr.run is None or not tr.run.alive() or tr.plan.mode == "unplug"
                if gone or time.monotonic() - started > UNPLUG_AFTER_S:
                    self.unplug_if_charging(tr.plan.cp_id)
            rows = self.net.db_sessions()
            states = self.states() or {}
            if all(r["finalised"] for r in rows) and not any(
                    t.run is not None and t.run.alive() for t in self.trackers.values()) and \
                    all(states.get(cp) == "AVAILABLE" for cp in self.plan.cp_ids) and \
                    all(d.recovered_s is not None for d in self.done):
                break
            time.sleep(0.2)
        waiting = [t.plan.driver_id for t in self.trackers.values()
                   if t.run is not None and t.run.alive()]
        self.result["drivers_still_waiting"] = waiting
        for tr in self.trackers.values():  # closed (its lock held `history` off)
            if tr.run is not None and tr.run.alive():
                tr.run.proc.terminate(timeout=10)
        for driver_id in self.runs:  # the driver's app opened again: tickets while away
            done = self.net.driver(driver_id, "history")
            self.history[driver_id] = [e for e in (json_object(line) for line in
                                                   done.stdout.splitlines()) if e]

    def unplug_if_charging(self, cp_id: str) -> None:
        try:
            if self.net.sim(cp_id, "status")["relay_closed"]:
                self.net.sim(cp_id, "unplug")
        except Exception:  # noqa: BLE001
            pass

    # ----- check ------------------------------------------------------------------
    def check(self) -> list[inv.Verdict]:
        rows = self.net.db_sessions()
        self.result["sessions"] = [{k: r.get(k) for k in (
            "session_id", "cp_id", "driver_id", "status", "reason", "energy_kwh", "cost",
            "finalised", "ticket_sent")} for r in rows]
        self.result["drivers"] = [{
            "driver_id": t.plan.driver_id, "session_id": t.session_id, "retries": t.retries,
            "exit": [run.proc.popen.returncode for run in self.runs[t.plan.driver_id]],
            "results": [e for run in self.runs[t.plan.driver_id] for e in run.events()
                        if "result" in e]} for t in self.trackers.values()]
        meter_after = {cp: self.net.meter_kwh(cp) for cp in self.plan.cp_ids}
        accepted = {t.session_id for t in self.trackers.values() if t.session_id}
        events = {d: [e for run in runs for e in run.events()] + self.history.get(d, [])
                  for d, runs in self.runs.items()}
        return [inv.exercised(rows), inv.one_record(rows, accepted),
                inv.energy(rows, self.meter_before, meter_after),
                inv.cost(rows), inv.tickets(rows, events),
                inv.cp_states(self.states(), self.plan.cp_ids)]

    def record(self, verdicts: list[inv.Verdict]) -> dict:
        p = self.plan
        return {
            "seed": p.seed, "case": p.case, "runtime": p.runtime, "cps": len(p.cp_ids),
            "ok": all(v.ok for v in verdicts),
            "sessions_plan": [vars(s) for s in p.sessions],
            "faults": [{"kind": d.plan.kind, "step": d.plan.step, "step_seen": d.step_seen,
                        "target": d.plan.target, "at_s": d.at_s, "hold_s": d.plan.hold_s,
                        "recovered_s": d.recovered_s, "notes": d.notes} for d in self.done],
            "invariants": [v.as_dict() for v in verdicts],
            "duration_s": round(time.monotonic() - self.begin, 1),
            "workdir": str(self.workdir), **self.result,
        }
