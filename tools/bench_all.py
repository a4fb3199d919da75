"""Run every benchmark and write the report: `make bench` (--full), `make bench-smoke` (--smoke).

    .venv/bin/python tools/bench_all.py --full  [--budget 600] [--kafka HOST:PORT]
    .venv/bin/python tools/bench_all.py --smoke [--out-dir DIR]

--full ramps the hub through N = 100, 1,000, 5,000, 10,000 charge points (within
--budget seconds), profiles Central, and runs the fault-detection, firmware
and codec benchmarks; it writes bench/report.md, bench/report.png and
bench/report.json. --smoke does the same with N = 50 and short runs, in under
a minute, into bench/smoke/. The exit status is 1 when a part crashed or the
report is incomplete, and with --smoke also when anything was lost (a session,
a telemetry record, a ticket, a Monitor record on its way to Kafka: 0 is the
only right count at 50 charge points); never because a figure missed its goal.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from evbench import suite
from evbench.headline import headline
from evbench.losses import run_losses
from evbench.machine import describe
from evbench.plot import plot_latency
from evbench.report import render, structure_problems
from evbench.report_ramp import compact
from evharness.procs import ROOT, free_port, wait_port
from evhost.cliargs import positive
from evkafka.broker import parse_hostport, spawn

BASELINE = ROOT / "bench" / "baseline" / "before.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--full", action="store_true", help="everything (make bench)")
    mode.add_argument("--smoke", action="store_true", help="N = 50, short runs (CI)")
    p.add_argument("--out-dir", type=Path,
                   help="where the report goes (default bench/, or bench/smoke/ with --smoke)")
    p.add_argument("--budget", type=positive, default=600.0,
                   help="seconds the load ramp may take with --full (default %(default)s)")
    p.add_argument("--kafka", metavar="HOST:PORT",
                   help="an existing broker (default: start a local Tansu broker)")
    p.add_argument("--record-baseline", action="store_true",
                   help=f"store this run's profile and load steps as the 'before' figures "
                        f"({BASELINE.relative_to(ROOT)})")
    args = p.parse_args(argv)
    if args.kafka:
        try:
            parse_hostport(args.kafka)
        except argparse.ArgumentTypeError as exc:
            p.error(str(exc))
    return args


def crashes(data: dict) -> list[str]:
    """Parts that broke (as opposed to figures that missed a goal)."""
    broken = [f"{name}: {data[name]['error']}" for name in ("wire", "engine", "monitor", "load")
              if (data.get(name) or {}).get("error")]
    steps = (data.get("load") or {}).get("steps") or []
    if steps and steps[0].get("error"):
        broken.append(f"load step of {steps[0]['cps']} CPs: {steps[0]['error']}")
    profile = (data.get("load") or {}).get("profile") or {}
    if profile.get("error"):
        broken.append(f"profile: {profile['error']}")
    return broken


def record_baseline(data: dict) -> None:
    load = data.get("load") or {}
    profile = dict(load.get("profile") or {})
    profile["step"] = compact(profile["step"]) if profile.get("step") else None
    baseline = {**profile, "recorded": data["machine"]["date_utc"][:10],
                "commit": data["machine"]["commit"], "changes": [],
                "ramp_steps": [compact(s) for s in load.get("steps", []) if not s.get("error")]}
    BASELINE.parent.mkdir(parents=True, exist_ok=True)
    BASELINE.write_text(json.dumps(baseline, indent=2) + "\n")
    print(f"recorded the baseline in {BASELINE}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "full" if args.full else "smoke"
    out_dir = args.out_dir or (ROOT / "bench" / ("smoke" if args.smoke else ""))
    out_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="evbench-logs-"))
    broker = None
    kafka = args.kafka
    if kafka is None:
        port = free_port()
        kafka = f"127.0.0.1:{port}"
        broker = spawn(kafka, str(logs / "broker.log"))
        wait_port("127.0.0.1", port, timeout=30, proc=broker)
    try:
        data: dict = {"mode": mode, "command": "make bench" if args.full else "make bench-smoke",
                      "machine": describe(kafka, broker is not None)}
        broker_pid = broker.pid if broker is not None else None
        parts = (suite.full_parts(out_dir, kafka, args.budget, broker_pid) if args.full
                 else suite.smoke_parts(out_dir, kafka, broker_pid))
        for part in parts:
            data[part.name] = suite.run(part, logs)
            data.setdefault("seconds", {})[part.name] = part.seconds
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(15)
    data["profile_before"] = json.loads(BASELINE.read_text()) if BASELINE.exists() else None
    data["headline"] = headline(data)
    data["duration_s"] = round(time.monotonic() - began)
    data["crashes"] = crashes(data)
    data["losses"] = run_losses(data)
    plot = plot_latency(data.get("load") or {}, data["machine"], out_dir / "report.png",
                        data["profile_before"])
    text = render(data, plot.name)
    (out_dir / "report.md").write_text(text)
    (out_dir / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    if args.record_baseline:
        record_baseline(data)
    print(f"\nwrote {out_dir / 'report.md'}, {plot}, {out_dir / 'report.json'} "
          f"in {data['duration_s']} s")
    for row in data["headline"]:
        print(f"  {row['goal']}: {row['measured']} (target {row['target']}): {row['verdict']}")
    problems = structure_problems(text) + data["crashes"]
    if args.smoke:  # at full scale a loss is a missed goal, reported in the headline
        problems += [f"lost: {loss}" for loss in data["losses"]]
    for problem in problems:
        print(f"bench: {problem}", file=sys.stderr)
    if problems:
        print(f"bench: part logs kept in {logs}", file=sys.stderr)
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
