#!/usr/bin/env python3
"""Measure the demo's log volume: bytes and lines per minute, per process.

    .venv/bin/python tools/log_volume.py [--seconds 120] [--label after]
                                         [-- extra `evcharge demo` options, e.g. --log-level debug]

Runs `evcharge demo --keep` (the whole story, then the network idling as an
operator would leave it) for a fixed wall-clock time, stops it with SIGTERM,
then reads every process's log under the demo's workdir (`logs/NAME.log`: the
harness sends each process's stdout+stderr there) and the demo's own output.
Prints a table and writes build/log-volume-LABEL.json. The figure that matters
for operators is the total at the default level (docs/BENCHMARKS.md, "Log volume").
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Restarted processes log to NAME.1.log, NAME.2.log...: they count as NAME.
_RESTART = re.compile(r"\.\d+$")


def evcharge() -> str:
    candidate = Path(sys.executable).parent / "evcharge"
    return str(candidate) if candidate.exists() else "evcharge"


def run_demo(workdir: Path, seconds: float, extra: list[str]) -> tuple[float, bytes, int | None]:
    """The demo for `seconds` of wall time; returns (elapsed, its own output, its exit code)."""
    out_path = workdir.parent / (workdir.name + ".demo-out")
    started = time.monotonic()
    with open(out_path, "wb") as out:
        # Own session: the SIGTERM goes to the demo, which stops its children itself.
        demo = subprocess.Popen([evcharge(), "demo", "--keep", "--workdir", str(workdir), *extra],
                                stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                start_new_session=True)
        try:
            demo.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            demo.send_signal(signal.SIGTERM)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    elapsed = time.monotonic() - started
    return elapsed, out_path.read_bytes(), demo.returncode


def measure(log_dir: Path, demo_out: bytes, elapsed: float) -> dict:
    per_proc: dict[str, dict[str, int]] = {}

    def add(name: str, data: bytes) -> None:
        row = per_proc.setdefault(name, {"bytes": 0, "lines": 0, "raw_librdkafka_lines": 0})
        row["bytes"] += len(data)
        row["lines"] += data.count(b"\n")
        # librdkafka's own stderr format: "%3|1700000000.123|FAIL|rdkafka#producer-1| ..."
        row["raw_librdkafka_lines"] += len(re.findall(rb"(?m)^%\d\|", data))

    for path in sorted(log_dir.glob("*.log")):
        add(_RESTART.sub("", path.stem), path.read_bytes())
    add("demo", demo_out)
    minutes = elapsed / 60.0
    rows = {name: {**row, "bytes_per_min": round(row["bytes"] / minutes),
                   "lines_per_min": round(row["lines"] / minutes, 1)}
            for name, row in per_proc.items()}
    total_bytes = sum(r["bytes"] for r in per_proc.values())
    total_lines = sum(r["lines"] for r in per_proc.values())
    return {"seconds": round(elapsed, 1), "processes": rows,
            "total": {"bytes": total_bytes, "lines": total_lines,
                      "bytes_per_min": round(total_bytes / minutes),
                      "lines_per_min": round(total_lines / minutes, 1),
                      "raw_librdkafka_lines": sum(r["raw_librdkafka_lines"]
                                                  for r in per_proc.values())}}


def print_table(report: dict) -> None:
    print(f"{'process':<16} {'bytes':>10} {'lines':>8} {'B/min':>10} {'lines/min':>10} {'%N|':>5}")
    rows = sorted(report["processes"].items(), key=lambda kv: -kv[1]["bytes"])
    for name, r in [*rows, ("TOTAL", report["total"])]:
        print(f"{name:<16} {r['bytes']:>10} {r['lines']:>8} {r['bytes_per_min']:>10} "
              f"{r['lines_per_min']:>10} {r['raw_librdkafka_lines']:>5}")
    print(f"over {report['seconds']} s of wall time")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=120.0,
                   help="wall-clock run time of the demo (default 120)")
    p.add_argument("--label", default="run", help="report name: build/log-volume-LABEL.json")
    p.add_argument("--workdir", type=Path, help="the demo's workdir (default: a new temp dir)")
    p.add_argument("demo_args", nargs="*", help="after --: more `evcharge demo` options")
    args = p.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="evcharge-logvol-")) / "net"
    elapsed, demo_out, code = run_demo(workdir, args.seconds, args.demo_args)
    report = measure(workdir / "logs", demo_out, elapsed)
    report.update(label=args.label, demo_args=args.demo_args, demo_exit=code,
                  workdir=str(workdir),
                  command=" ".join(["tools/log_volume.py", "--seconds", f"{args.seconds:g}",
                                    *(["--", *args.demo_args] if args.demo_args else [])]))
    print_table(report)
    out = ROOT / "build" / f"log-volume-{args.label}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
