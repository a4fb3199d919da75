"""Cluster benchmark: CPs carried at 1 Hz (telemetry p99 <= 1 s, nothing lost) with 1, 2
and 3 Centrals on one PostgreSQL database and one Kafka cluster, and the failover time.

    .venv/bin/python tools/bench_cluster.py [--centrals 1 2 3] [--levels 250 500 ...]
        [--start 1000] [--window 10] [--budget 480] [--failover-cps N] [--no-failover]
        [--drivers-at owner|other] [--profile-cps N] [--kafka HOST:PORT] [--quick]

Starts a private PostgreSQL cluster (evharness.pgcluster: initdb + pg_ctl, as `nobody`
when run as root) and a local Kafka-protocol broker (or uses --kafka). For each count of
Centrals K, a stepped search over --levels: each step (evbench.cluster.ClusterStep) is a
fresh database and topic namespace, K `evcharge central` processes (`--db postgresql://...
--db-key-file F`, and `--central-id cN` when this Central has the flag), N simulated
Monitors spread over them (real TCP, real auth, heartbeats, one signed charging_data a
second each through Kafka, address-list failover as `--central A,B,C`), one driver per CP.
The search for K starts where K-1 ended, climbs while a step meets the goal and goes down
while it does not. Then the failover: 2 Centrals, --failover-cps CPs charging (default:
as many as one Central carried), one Central SIGKILLed; the time until its CPs are
registered at the other one and until telemetry flows again. Writes --out (JSON) and
--md (Markdown). Exit 0 whatever the figures; 1 when the tool itself broke. Everything
(Centrals, PostgreSQL, Kafka, this generator) shares the machine's cores: on a 2-core
machine the curve says how K Centrals share two cores, not how K hosts would scale.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from evbench import goals
from evbench.cluster import DRIVERS_AT, ClusterStep, PgServer, cluster_mode_available
from evbench.cluster_report import markdown, summary_lines
from evbench.loadgen import raise_fd_limit
from evbench.profiling import top_functions
from evbench.runopts import add_run_options, broker_for, report_header
from evbench.step import StepOptions
from evharness.procs import ROOT
from evhost.cliargs import count, non_negative, positive
from evwire.trace import configure, log

COMMAND = ".venv/bin/python tools/bench_cluster.py"
FIXED_STEP_S = 20.0  # a step's cost that does not grow with N (start-up, drain, teardown)
QUICK = {"centrals": [1, 2, 3], "levels": [40], "start": 40, "window": 3.0,
         "failover_cps": 40, "drain": 10.0, "no_warmup": True}
WARMUP_WINDOW_S = 3.0
FAILOVER_FALLBACK_CPS = 500


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--centrals", type=count, nargs="+", default=[1, 2, 3],
                   help="counts of Centrals to measure, in order (default 1 2 3)")
    p.add_argument("--levels", type=count, nargs="+",
                   default=[250, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 6000],
                   help="CP counts of the stepped search (default %(default)s)")
    p.add_argument("--start", type=count, default=1000,
                   help="the first Central count's search starts at this level (default "
                        "%(default)s); the next count's where the previous one ended")
    p.add_argument("--warmup-cps", type=count, default=100,
                   help="a first step not counted (cold PostgreSQL, broker, caches) of this "
                        "many CPs (default %(default)s)")
    p.add_argument("--no-warmup", action="store_true", help="no warm-up step (--quick)")
    p.add_argument("--window", type=positive, default=10.0,
                   help="seconds of measured full load per step (default %(default)s)")
    p.add_argument("--budget", type=positive, default=480.0,
                   help="seconds the searches may take, shared among the Central counts; "
                        "a step that would not fit is skipped (default %(default)s)")
    p.add_argument("--failover-cps", type=count,
                   help="CPs spread over 2 Centrals for the failover (default: the most one "
                        "Central carried in the search, so that the survivor can carry them "
                        f"all; {FAILOVER_FALLBACK_CPS} if that was not measured)")
    p.add_argument("--no-failover", action="store_true", help="skip the failover")
    p.add_argument("--drivers-at", choices=DRIVERS_AT, default="owner",
                   help="drivers ask the CP's own Central (owner) or another one (other: "
                        "the start command is routed between Centrals)")
    p.add_argument("--connect-settle", type=non_negative, default=0.0,
                   help="seconds between every CP registered and the first charge request "
                        "(default 0, as make bench: the sessions open right after the "
                        "connect burst)")
    p.add_argument("--profile-cps", type=count,
                   help="also one step of this many CPs on 1 Central run under pyinstrument: "
                        "its top functions in the report (default: none)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run of under a minute: 40 CPs, 3 s windows")
    add_run_options(p)
    p.add_argument("--out", type=Path, help="JSON report (default bench/cluster.json; "
                                            "--quick: bench/smoke/cluster.json)")
    p.add_argument("--md", type=Path, help="Markdown report (default: --out as .md)")
    return p


class Run:
    def __init__(self, args: argparse.Namespace, bootstrap: str, broker_pid: int | None,
                 pg: PgServer, workdir: Path, cluster_ids: bool):
        self.args, self.bootstrap, self.broker_pid = args, bootstrap, broker_pid
        self.pg, self.workdir, self.cluster_ids = pg, workdir, cluster_ids
        self.began = time.monotonic()
        self.steps: list[dict] = []
        self.skipped: list[dict] = []
        self.share_ends = self.began + args.budget

    def step(self, centrals: int, cps: int, failover: bool = False,
             window_s: float | None = None, profile_path: Path | None = None) -> dict:
        args = self.args
        opts = StepOptions(cps=cps, window_s=window_s or args.window, ramp_rate=args.ramp_rate,
                           probe_cps=0, drain_s=args.drain + cps / 200, storm=False,
                           log_level=args.central_log_level, broker_pid=self.broker_pid,
                           profile_path=profile_path)
        kind = "failover" if failover else "profile" if profile_path else "step"
        name = f"{kind}-{centrals}x{cps}"
        print(f"-- {centrals} Central(s), {cps} charge points"
              f"{': failover' if failover else ''}", flush=True)
        step = None
        try:
            step = ClusterStep(opts, self.bootstrap, self.workdir / name, self.pg, centrals,
                               self.cluster_ids, args.drivers_at, failover,
                               args.connect_settle)
            result = asyncio.run(step.run())
        except Exception as exc:  # a step that breaks is a result, not the end of the run
            log("error", f"{name} failed: {exc!r}")
            result = {**(step.result if step is not None else
                         {"cps": cps, "centrals": centrals}),
                      "error": f"{type(exc).__name__}: {exc}"}
        result["failures"] = goals.step_failures(result)
        result["meets_goal"] = not result["failures"]
        print(json.dumps(result, indent=1), flush=True)
        return result

    def fits(self, n: int, centrals: int, first: bool) -> bool:
        """Whether a step of n CPs fits in this Central count's share of the budget (what
        is left, shared among the counts still to measure); the first step of each count
        always runs. The time is judged from the last step that met the goal (a step
        that collapsed takes far longer than one that meets it)."""
        left = self.share_ends - time.monotonic()
        timed = [s for s in self.steps if s.get("duration_s")]
        if first or not timed:
            return True
        last = ([s for s in timed if s.get("meets_goal")] or timed)[-1]
        variable = max(0.0, last["duration_s"] - FIXED_STEP_S - self.args.window)
        needed = FIXED_STEP_S + self.args.window + variable * n / max(1, last["cps"])
        if needed <= left:
            return True
        self.skipped.append({"centrals": centrals, "cps": n,
                             "why": f"time budget: ~{needed:.0f} s needed, {max(0, left):.0f} s "
                                    f"left of this count's share"})
        return False

    def search(self, centrals: int, start: int) -> int | None:
        """Largest level meeting the goal, climbing from levels[start] or going down."""
        levels = self.args.levels
        best, direction, i = None, 0, start
        while 0 <= i < len(levels) and self.fits(levels[i], centrals, direction == 0):
            step = self.step(centrals, levels[i])
            self.steps.append(step)
            if step["meets_goal"]:
                best = levels[i]
                if direction < 0:
                    break
                direction, i = 1, i + 1
            else:
                if direction > 0:
                    break
                direction, i = -1, i - 1
        return best

    def profile(self, cps: int) -> dict:
        """One Central under pyinstrument at `cps` CPs: where its event loop's time goes."""
        path = self.workdir / f"central-profile-{cps}.pstats"
        step = self.step(1, cps, profile_path=path)
        if not path.exists():
            return {"cps": cps, "step": step, "error": "no profile was written"}
        return {"cps": cps, "step": step, **top_functions(path)}

    def all(self) -> dict:
        levels = self.args.levels
        best: dict[str, int | None] = {}
        warmup = None
        if not self.args.no_warmup:
            warmup = self.step(1, self.args.warmup_cps, window_s=WARMUP_WINDOW_S)
            self.began = time.monotonic()  # the budget is the search's
        start = min(range(len(levels)), key=lambda i: abs(levels[i] - self.args.start))
        counts = self.args.centrals
        for done, k in enumerate(counts):
            left = self.args.budget - (time.monotonic() - self.began)
            self.share_ends = time.monotonic() + left / (len(counts) - done)
            found = self.search(k, start)
            best[str(k)] = found
            start = levels.index(found) if found is not None else 0
        failover = None
        if not self.args.no_failover:
            cps = self.args.failover_cps or best.get("1") or FAILOVER_FALLBACK_CPS
            failover = self.step(2, cps, failover=True)
        profile = self.profile(self.args.profile_cps) if self.args.profile_cps else None
        return {"largest_cps_meeting_goal": best, "warmup_step": warmup, "steps": self.steps,
                "skipped": self.skipped, "failover_step": failover, "profile": profile,
                "duration_s": round(time.monotonic() - self.began, 1)}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    args.levels = sorted(set(args.levels + [args.start]))
    default_out = ROOT / "bench" / ("smoke/cluster.json" if args.quick else "cluster.json")
    out = args.out or default_out
    md = args.md or out.with_suffix(".md")
    configure(tier="evbench", level=args.log_level)
    raise_fd_limit()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="evbench-cluster-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cluster_ids = cluster_mode_available()
    print(f"Central {'has' if cluster_ids else 'lacks'} --central-id: "
          f"{'cluster mode' if cluster_ids else 'each Central reads every partition'}",
          flush=True)
    report: dict = {}
    code = 0
    pg = None
    try:
        pg = PgServer(workdir)
        with broker_for(args, workdir) as (bootstrap, broker_pid):
            report = report_header("bench_cluster", argv, args, bootstrap)
            report["command"] = " ".join([COMMAND, *(argv if argv is not None
                                                     else sys.argv[1:])])
            report["machine"]["postgresql"] = pg.version()
            report["cluster_mode"] = cluster_ids
            report.update(Run(args, bootstrap, broker_pid, pg, workdir, cluster_ids).all())
    except Exception as exc:  # the tool broke: say so, keep what there is
        log("error", f"bench_cluster failed: {exc!r}")
        report["error"], code = f"{type(exc).__name__}: {exc}", 1
    finally:
        if pg is not None:
            pg.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(markdown(report))
    for line in summary_lines(report):
        print(line, flush=True)
    print(f"wrote {out} and {md}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
