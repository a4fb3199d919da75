"""The hub load generator: ramp N simulated charge points through a real Central.

    .venv/bin/python -m evbench.loadgen [--cps 100 1000 5000 10000] [--budget 600]
        [--window 20] [--kafka HOST:PORT] [--profile-cps 2000] [--out bench/load.json]

For each N (in order) one step (evbench.step): a fresh Central in its own
process, N charge points and N drivers simulated here over real TCP and a
real Kafka broker (a local one is started when --kafka is not given). The
ramp stops at the first step that clearly fails (loss over 1 %, p99 over
5 s, sessions refused) or when the next step would not fit in --budget
seconds. --storm-cps adds a reconnect storm of that many charge points
(heartbeats only, no sessions) if the ramp did not get that far;
--profile-cps adds one step with Central under pyinstrument.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from evbench import goals
from evbench.profiling import top_functions
from evbench.runopts import add_run_options, broker_for, report_header
from evbench.step import Step, StepOptions
from evharness.procs import ROOT
from evhost.cliargs import count, positive
from evwire.trace import configure, log

FIXED_STEP_S = 25.0  # a step's cost that does not grow with N (start-up, drain waits)
SPARE_FDS = 300  # besides one socket per charge point: Kafka clients, SQLite, logs, drivers


def _count_or_zero(text: str) -> int:
    """A whole number of 0 or more (0: that part is off)."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' must be a whole number, 0 or more")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evbench.loadgen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cps", type=count, nargs="+", default=[100, 1000, 5000, 10000],
                   help="charge point counts to ramp through, in order")
    p.add_argument("--window", type=positive, default=20.0,
                   help="seconds of measured full load per step (default %(default)s)")
    p.add_argument("--budget", type=positive, default=900.0,
                   help="seconds the ramp may take; a step that would not fit is skipped")
    p.add_argument("--probe-cps", type=_count_or_zero, default=10,
                   help="idle charge points kept for request -> command probes under load")
    p.add_argument("--probe-rate", type=positive, default=5.0,
                   help="probe charge requests per second in the window (default %(default)s)")
    p.add_argument("--no-storm", action="store_true", help="skip the reconnect storms")
    p.add_argument("--storm-cps", type=_count_or_zero, default=0,
                   help="also time a reconnect storm of this many CPs (heartbeats only) "
                        "when the ramp stopped below it")
    p.add_argument("--profile-cps", type=_count_or_zero, default=0,
                   help="also profile Central (pyinstrument) in a step of this many CPs")
    p.add_argument("--profile-window", type=positive, default=10.0)
    add_run_options(p)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "load.json")
    return p


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def options(args: argparse.Namespace, cps: int, broker_pid: int | None) -> StepOptions:
    return StepOptions(cps=cps, window_s=args.window, ramp_rate=args.ramp_rate,
                       probe_cps=args.probe_cps, probe_rate=args.probe_rate,
                       drain_s=args.drain + cps / 200,
                       storm=not args.no_storm, log_level=args.central_log_level,
                       broker_pid=broker_pid)


def run_step(opts: StepOptions, bootstrap: str, workdir: Path) -> dict:
    """The step's figures; one that breaks keeps what it measured, plus `error`."""
    step = None
    try:
        step = Step(opts, bootstrap, workdir)
        return asyncio.run(step.run())
    except Exception as exc:  # a step that breaks is a result, not the end of the report
        log("error", f"step of {opts.cps} CPs failed: {exc!r}")
        partial = step.result if step is not None else {"cps": opts.cps}
        return {**partial, "error": f"{type(exc).__name__}: {exc}"}


def ramp(args: argparse.Namespace, bootstrap: str, broker_pid: int | None, workdir: Path,
         fd_limit: int) -> dict:
    steps: list[dict] = []
    skipped: list[dict] = []
    began = time.monotonic()
    last: tuple[int, float] | None = None
    for n in args.cps:
        if n + args.probe_cps + SPARE_FDS > fd_limit:  # Central inherits the same limit
            skipped.append({"cps": n, "why": f"open-files limit {fd_limit} too low"})
            continue
        left = args.budget - (time.monotonic() - began)
        if last is not None:
            variable = max(0.0, last[1] - FIXED_STEP_S - args.window)
            needed = FIXED_STEP_S + args.window + variable * n / last[0]
            if needed > left:
                skipped.append({"cps": n, "why": f"time budget: ~{needed:.0f} s needed, "
                                                 f"{left:.0f} s of {args.budget:.0f} s left"})
                break
        print(f"-- load step: {n} charge points", flush=True)
        step = run_step(options(args, n, broker_pid), bootstrap, workdir / f"step-{n}")
        step["meets_goal"] = not goals.step_failures(step)
        step["failures"] = goals.step_failures(step)
        steps.append(step)
        print(json.dumps(step, indent=1), flush=True)
        last = (n, step.get("duration_s") or 0.0)
        if goals.clearly_failed(step):
            skipped.extend({"cps": m, "why": f"the step of {n} CPs clearly failed"}
                           for m in args.cps if m > n)
            break
    passing = [s["cps"] for s in steps if s["meets_goal"]]
    return {"steps": steps, "skipped": skipped,
            "largest_cps_meeting_goal": max(passing) if passing else None,
            "ramp_s": round(time.monotonic() - began, 1)}


def storm_only(args: argparse.Namespace, bootstrap: str, broker_pid: int | None,
               workdir: Path, fd_limit: int, steps: list[dict]) -> dict | None:
    """A reconnect storm at --storm-cps when no ramp step measured one that large."""
    n = args.storm_cps
    if not n or any((s.get("storm") or {}).get("complete") and s["cps"] >= n for s in steps):
        return None
    if n + SPARE_FDS > fd_limit:
        return {"cps": n, "error": f"open-files limit {fd_limit} too low"}
    opts = options(args, n, broker_pid)
    opts.sessions, opts.probe_cps, opts.window_s, opts.storm = False, 0, 10.0, True
    print(f"-- reconnect storm: {n} charge points, heartbeats only", flush=True)
    return run_step(opts, bootstrap, workdir / "storm")


def profile(args: argparse.Namespace, bootstrap: str, broker_pid: int | None,
            workdir: Path) -> dict:
    path = workdir / "central-profile.pstats"
    opts = options(args, args.profile_cps, broker_pid)
    opts.window_s, opts.storm, opts.profile_path = args.profile_window, False, path
    print(f"-- profile step: {args.profile_cps} charge points, Central under pyinstrument",
          flush=True)
    step = run_step(opts, bootstrap, workdir / "profile")
    if not path.exists():
        return {"cps": args.profile_cps, "step": step, "error": "no profile was written"}
    return {"cps": args.profile_cps, "step": step, **top_functions(path)}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure(tier="evbench", level=args.log_level)
    fd_limit = raise_fd_limit()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="evbench-"))
    try:
        with broker_for(args, workdir) as (bootstrap, broker_pid):
            result = {**report_header("evbench.loadgen", argv, args, bootstrap),
                      "open_files_limit": fd_limit}
            result.update(ramp(args, bootstrap, broker_pid, workdir, fd_limit))
            result["storm_step"] = storm_only(args, bootstrap, broker_pid, workdir, fd_limit,
                                              result["steps"])
            if args.profile_cps:
                result["profile"] = profile(args, bootstrap, broker_pid, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
