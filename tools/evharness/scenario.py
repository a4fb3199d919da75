"""The demo's plot: two drivers work through their services files while an
operator crashes and reboots one Engine and takes one CP out of service.

The operator's part is a generator (`operator_script`) that yields whenever it
waits, so one loop can narrate the drivers' events and Central's states while
the plot unfolds, with no threads. Steps wait for what they need (a CP
charging, FAULTED shown) rather than for fixed times, so a slow machine only
makes the story slower, not different.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

from evharness.central_client import CentralUnavailable, CommandRefused
from evharness.drivers import DriverRun
from evharness.narrative import Narrator
from evharness.network import Network

TICK_S = 0.25
Wait = Generator[None, None, bool]


@dataclass
class Plan:
    kwh_per_service: float = 0.8
    pause_s: float = 4.0
    crash_cp: str = "CP1"
    stop_cp: str = "CP3"
    crash_after_kwh: float = 0.3   # the Engine dies once its session has this much
    engine_down_s: float = 3.0     # how long the crashed Engine stays down
    stop_after_kwh: float = 0.2
    stopped_s: float = 5.0
    step_timeout_s: float = 60.0
    drivers_timeout_s: float = 240.0


def services_files(cp_ids: list[str], driver_ids: list[str], folder: Path) -> dict[str, Path]:
    """Driver i visits every CP once: it starts at the i-th and walks the list backwards
    (D1: CP1, CP3, CP2; D2: CP2, CP1, CP3), so two drivers seldom want one CP at once."""
    files = {}
    for index, driver_id in enumerate(driver_ids):
        start = index % len(cp_ids)
        order = [cp_ids[(start - step) % len(cp_ids)] for step in range(len(cp_ids))]
        path = folder / f"services-{driver_id}.txt"
        path.write_text("".join(f"{cp}\n" for cp in order))
        files[driver_id] = path
    return files


class DemoRun:
    def __init__(self, net: Network, narrator: Narrator, plan: Plan):
        self.net = net
        self.say = narrator
        self.plan = plan
        self.rows: dict[str, dict] = {}
        self.runs: dict[str, DriverRun] = {}

    # ----- watching ------------------------------------------------------
    def watch(self) -> None:
        """One look at everything: narrate what changed since the last look."""
        for driver_id, run in self.runs.items():
            for event in run.new_events():
                self.say.driver_event(driver_id, event)
        try:
            rows = {row["cp_id"]: row for row in self.net.cp_rows()}
        except CentralUnavailable:
            return
        for cp_id, row in rows.items():
            old = self.rows.get(cp_id, {}).get("status")
            if row["status"] != old:
                self.say.cp_change(cp_id, old, row["status"], row)
        self.rows = rows

    def state(self, cp_id: str) -> str | None:
        return self.rows.get(cp_id, {}).get("status")

    def charging_with(self, cp_id: str, kwh: float) -> bool:
        return self.state(cp_id) == "CHARGING" and self.session_kwh(cp_id) >= kwh

    def drivers_done(self) -> bool:
        return not any(run.alive() for run in self.runs.values())

    def session_kwh(self, cp_id: str) -> float:
        session = self.rows.get(cp_id, {}).get("session") or {}
        return float(session.get("energy_consumed_kwh") or 0.0)

    def session_driver(self, cp_id: str) -> str:
        session = self.rows.get(cp_id, {}).get("session") or {}
        return session.get("driver_id") or "nobody"

    # ----- the plot ------------------------------------------------------
    def start_drivers(self, folder: Path) -> None:
        cp_ids = [cp.cp_id for cp in self.net.spec.cps]
        files = services_files(cp_ids, self.net.spec.drivers, folder)
        for driver_id, path in files.items():
            visits = ", ".join(path.read_text().split())
            secret = self.net.spec.driver_secret_file(driver_id)  # 0600, from provisioning
            self.say.operator(f"{driver_id} starts `evcharge driver --secret-file "
                              f"{secret.relative_to(self.net.workdir)} run {path.name} "
                              f"--kwh {self.plan.kwh_per_service:g}` ({visits})")
            self.runs[driver_id] = self.net.start_driver(
                driver_id, "run", str(path), "--kwh", f"{self.plan.kwh_per_service:g}",
                "--pause", f"{self.plan.pause_s:g}")

    def _wait(self, condition: Callable[[], bool], timeout: float) -> Wait:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            yield
        return False

    def _pause(self, seconds: float) -> Wait:
        yield from self._wait(lambda: False, seconds)
        return True

    def operator_script(self) -> Wait:
        p = self.plan
        yield from self.crash_engine(p.crash_cp)
        yield from self.stop_and_resume(p.stop_cp)
        return True

    def crash_engine(self, cp_id: str) -> Wait:
        p = self.plan
        # Once no driver is left to charge there, the operator acts on the idle CP.
        mid_session = yield from self._wait(
            lambda: self.charging_with(cp_id, p.crash_after_kwh) or self.drivers_done(),
            p.step_timeout_s)
        mid_session = mid_session and self.state(cp_id) == "CHARGING"
        engine = self.net.proc(f"engine-{cp_id}")
        during = (f"in the middle of {self.session_driver(cp_id)}'s session "
                  f"({self.session_kwh(cp_id):.3f} kWh so far)" if mid_session else "while idle")
        self.say.operator(f"kill -9 the Engine of {cp_id} (pid {engine.pid}) {during}")
        self.net.kill_engine(cp_id)
        yield from self._wait(lambda: self.state(cp_id) == "FAULTED", p.step_timeout_s)
        meanwhile = (f"the contactor of {cp_id} is still closed, so its meter keeps counting; "
                     if mid_session else "")
        self.say.operator(f"{meanwhile}the Engine stays down {p.engine_down_s:g} s")
        yield from self._pause(p.engine_down_s)
        self.say.operator(f"reboot the Engine of {cp_id} (it opens the relay, reads the meter "
                          "and reports the session it had)")
        self.net.start_engine(cp_id)
        yield from self._wait(lambda: self.state(cp_id) == "AVAILABLE", p.step_timeout_s)
        return True

    def stop_and_resume(self, cp_id: str) -> Wait:
        p = self.plan
        yield from self._wait(
            lambda: self.charging_with(cp_id, p.stop_after_kwh) or self.drivers_done(),
            p.step_timeout_s)
        during = (f" during {self.session_driver(cp_id)}'s session"
                  if self.state(cp_id) == "CHARGING" else "")
        self.admin(f"take {cp_id} out of service{during}", "stop", cp_id, "--reason",
                   "maintenance")
        yield from self._wait(lambda: self.state(cp_id) == "STOPPED", p.step_timeout_s)
        yield from self._pause(p.stopped_s)
        self.admin(f"put {cp_id} back in service", "resume", cp_id)
        return True

    def admin(self, why: str, *args: str) -> None:
        self.say.operator(f"{why}: `evcharge admin {' '.join(args)}`")
        done = self.net.admin(*args)
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("message"):
            text = answer["message"]
        else:
            text = (done.stderr or done.stdout).strip()
        self.say.operator(f"Central answers: {text}")
        if done.returncode != 0:
            raise CommandRefused(f"evcharge admin {' '.join(args)} failed: {text}")

    # ----- the loop ------------------------------------------------------
    def play(self, folder: Path) -> None:
        """Run the whole plot; return once both drivers are done and nothing is live."""
        self.watch()
        self.start_drivers(folder)
        script: Wait | None = self.operator_script()
        deadline = time.monotonic() + self.plan.drivers_timeout_s
        while script is not None or not self.drivers_done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the drivers did not finish within "
                                   f"{self.plan.drivers_timeout_s:g} s")
            self.watch()
            if script is not None:
                try:
                    next(script)
                except StopIteration:
                    script = None
            time.sleep(TICK_S)
        self.watch()

    def driver_problems(self) -> dict[str, str]:
        """Drivers that did not get through their services file, and how they ended.

        A refused service is part of the story (the run goes on and ends "partial",
        exit 1); an error (Central or Kafka unreachable, a crash) is not.
        """
        problems = {}
        for driver_id, run in self.runs.items():
            results = [e["result"] for e in run.events() if "result" in e]
            outcome = results[-1] if results else "no result"
            if outcome not in ("ok", "partial"):
                problems[driver_id] = f"ended with {outcome}, exit {run.proc.popen.returncode}"
        return problems
