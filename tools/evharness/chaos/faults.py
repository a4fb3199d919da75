"""The faults a chaos case injects into a running network, and how each is undone.

A fault is planned (FaultPlan: kind, the step of a session it waits for, the CP or
process it hits, a small delay, how long it lasts), then injected (Injected: what
was done, when, and how to restore it). kill_* is SIGKILL (a crash), sigstop is
SIGSTOP to the process group for hold_s then SIGCONT, power_cut kills a CP's
Engine, Monitor and simulator together and restarts them with the meter's register
as it was, restart_* is SIGTERM and an immediate start.
"""
from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import dataclass, field

from evharness.network import Network

KINDS = ("kill_central", "kill_monitor", "kill_engine", "kill_broker", "kill_driver",
         "sigstop", "power_cut", "restart_broker", "restart_central")
STEPS = ("start", "charging", "completion", "commit")
# The local broker (Tansu) keeps its log in memory: a restart loses the records it
# holds by design (docs/KAFKA.md, tests/e2e/test_kill_broker.py). Broker faults are
# therefore injected only where no completion can be in flight on Kafka.
VOLATILE_BROKER_STEPS = ("start",)
BROKER_KINDS = ("kill_broker", "restart_broker")


@dataclass
class FaultPlan:
    kind: str
    step: str          # the session step it waits for (STEPS)
    cp_id: str         # the session (CP) whose step triggers it
    target: str        # the process name hit (net.procs key), or the CP for power_cut
    delay_s: float     # after the step is seen
    hold_s: float      # how long the process stays down / stopped

    def label(self) -> str:
        return f"{self.kind}({self.target})@{self.step}"


@dataclass
class Injected:
    plan: FaultPlan
    step_seen: str                 # the step it really fired at ("late" = after the drive)
    at_s: float                    # case-relative time of the injection
    restore_at: float              # monotonic time to restore
    meter_kwh: float | None = None  # power_cut: the register read just before the cut
    plugged: bool = True
    restored_at: float | None = None
    recovered_s: float | None = None
    energy_at_restore: dict | None = None  # broker faults: live energies of charging CPs
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.restored_at is None


def plan_faults(rng: random.Random, cp_ids: list[str], drivers: dict[str, str],
                kinds: tuple[str, ...] = KINDS) -> list[FaultPlan]:
    """1-3 faults, each on a random session's step, one per target process at a time."""
    plans = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(kinds)
        cp_id = rng.choice(cp_ids)
        step = rng.choice(VOLATILE_BROKER_STEPS if kind in BROKER_KINDS else STEPS)
        target = {"kill_central": "central", "restart_central": "central",
                  "kill_broker": "broker", "restart_broker": "broker",
                  "kill_monitor": f"monitor-{cp_id}", "kill_engine": f"engine-{cp_id}",
                  "kill_driver": f"driver-{drivers[cp_id]}", "power_cut": cp_id}.get(kind)
        if target is None:  # sigstop: any process of the network
            target = rng.choice(["central", "broker", f"monitor-{cp_id}", f"engine-{cp_id}",
                                 f"sim-{cp_id}", f"driver-{drivers[cp_id]}"])
        hold = 0.0 if kind.startswith("restart_") or kind == "kill_driver" else \
            rng.uniform(0.5, 5.0)
        plans.append(FaultPlan(kind, step, cp_id, target, round(rng.uniform(0.0, 0.5), 3),
                               round(hold, 3)))
    return plans


def processes_of(plan: FaultPlan) -> set[str]:
    if plan.kind == "power_cut":
        return {f"engine-{plan.target}", f"monitor-{plan.target}", f"sim-{plan.target}"}
    return {plan.target}


def _signal_group(net: Network, name: str, sig: signal.Signals) -> bool:
    proc = net.procs.get(name)
    if proc is None or not proc.alive():
        return False
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return False
    return True


def inject(net: Network, plan: FaultPlan, step_seen: str, at_s: float) -> Injected:
    """Do the fault now; the returned record says when and how to restore it."""
    done = Injected(plan, step_seen, round(at_s, 3), time.monotonic() + plan.hold_s)
    kind, target = plan.kind, plan.target
    if kind == "sigstop":
        if not _signal_group(net, target, signal.SIGSTOP):
            done.notes.append(f"{target} was not running")
    elif kind == "power_cut":
        try:
            status = net.sim(target, "status")
            done.meter_kwh, done.plugged = float(status["meter_kwh"]), bool(status["plugged"])
        except Exception as exc:  # noqa: BLE001  (a stopped sim cannot answer: cut anyway)
            done.notes.append(f"meter not read before the cut: {exc}")
        for name in sorted(processes_of(plan)):  # as close together as we can
            _signal_group(net, name, signal.SIGKILL)
        for name in processes_of(plan):
            if name in net.procs:
                net.procs[name].kill()
    elif kind.startswith("kill_"):
        if target == "central":
            net.central.close()
        if target in net.procs and net.procs[target].alive():
            net.kill(target)
        else:
            done.notes.append(f"{target} was not running")
    elif kind == "restart_central":
        net.central.close()
        net.stop("central")
        net.start_central()
    elif kind == "restart_broker":
        net.stop("broker")
        net.start_broker()
    return done


def restore(net: Network, done: Injected) -> None:
    """Undo the fault: SIGCONT, or start again what was killed (drivers excepted: the
    driver's app is opened again at the end of the case, `history`)."""
    plan = done.plan
    kind, target = plan.kind, plan.target
    if kind == "sigstop":
        _signal_group(net, target, signal.SIGCONT)
    elif kind == "power_cut":
        if done.meter_kwh is None:
            done.notes.append("register unknown: the simulator restarts at 0")
        net.start_sim(target, meter_start=done.meter_kwh or 0.0, plugged=done.plugged)
        net.start_engine(target)
        net.start_monitor(target)
    elif kind == "kill_central" and not net.procs["central"].alive():
        net.start_central()
    elif kind == "kill_broker" and not net.procs["broker"].alive():
        net.start_broker()
    elif kind == "kill_monitor" and not net.procs[target].alive():
        net.start_monitor(plan.cp_id)
    elif kind == "kill_engine" and not net.procs[target].alive():
        net.start_engine(plan.cp_id)
    done.restored_at = time.monotonic()
