"""Run the component benchmarks (the existing scripts) and the load generator as processes.

Each runs as its own process with its own output file; a part that crashes
or times out is recorded as {"error": ...} with the tail of its output, and
the rest goes on, so the report always gets written.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from evharness.procs import ROOT

TOOLS = ROOT / "tools"


@dataclass
class Part:
    name: str
    argv: list[str]  # after the interpreter
    out: Path
    timeout_s: float
    seconds: float = 0.0
    log: list[str] = field(default_factory=list)


def _broker(kafka: str, broker_pid: int | None) -> list[str]:
    return ["--kafka", kafka] + (["--broker-pid", str(broker_pid)] if broker_pid else [])


def full_parts(out_dir: Path, kafka: str, budget_s: float, broker_pid: int | None
               ) -> list[Part]:
    return [
        Part("wire", [str(TOOLS / "bench_wire.py")], out_dir / "wire.json", 300),
        Part("engine", [str(TOOLS / "bench_engine.py"), "--seconds", "30"],
             out_dir / "engine.json", 900),
        Part("monitor", [str(TOOLS / "bench_monitor.py"), "--runs", "10", "--kafka", kafka],
             out_dir / "monitor.json", 900),
        Part("load", ["-m", "evbench.loadgen", "--cps", "100", "1000", "2500", "5000", "6000",
                      "7500", "10000", "--window", "20", "--budget", str(budget_s), "--storm-cps",
                      "10000", "--profile-cps", "2000", *_broker(kafka, broker_pid)],
             out_dir / "load.json", budget_s + 900),
    ]


def smoke_parts(out_dir: Path, kafka: str, broker_pid: int | None) -> list[Part]:
    return [
        Part("wire", [str(TOOLS / "bench_wire.py"), "--seconds", "0.2", "--repeats", "1"],
             out_dir / "wire.json", 120),
        Part("engine", [str(TOOLS / "bench_engine.py"), "--seconds", "3", "--no-bisect"],
             out_dir / "engine.json", 180),
        Part("monitor", [str(TOOLS / "bench_monitor.py"), "--runs", "1", "--records", "500",
                         "--kafka", kafka], out_dir / "monitor.json", 180),
        Part("load", ["-m", "evbench.loadgen", "--cps", "50", "--window", "3", "--probe-cps",
                      "3", "--drain", "15", "--profile-cps", "50", "--profile-window", "3",
                      *_broker(kafka, broker_pid)], out_dir / "load.json", 240),
    ]


def run(part: Part, log_dir: Path) -> dict:
    """The part's JSON, or {"error": ...} if it crashed, timed out or wrote none."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{part.name}.log"
    part.out.unlink(missing_ok=True)
    argv = [sys.executable, *part.argv, "--out", str(part.out)]
    print(f"== {part.name}: {' '.join(argv[1:])}", flush=True)
    began = time.monotonic()
    with open(log_path, "w") as log:
        try:
            done = subprocess.run(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=part.timeout_s)
            code: int | None = done.returncode
        except subprocess.TimeoutExpired:
            code = None
    part.seconds = round(time.monotonic() - began, 1)
    tail = log_path.read_text(errors="replace").splitlines()[-15:]
    if code is None:
        return {"error": f"timed out after {part.timeout_s:g} s", "log_tail": tail}
    if code != 0:
        return {"error": f"exited with status {code}", "log_tail": tail}
    try:
        return json.loads(part.out.read_text())
    except (OSError, ValueError) as exc:
        return {"error": f"no readable output ({exc})", "log_tail": tail}
