"""Run the fuzz targets: `make fuzz` (FUZZ_RUNS, default 1,000,000 per target) and
`make fuzz-smoke` (20,000). Each target runs in its own process, so a crash in C
code or a hang that no alarm can interrupt costs that target, not the run.

    python tools/fuzz/run.py [--runs N] [--only NAME ...] [--report build/fuzz/report.json]
    python tools/fuzz/run.py --list
    python tools/fuzz/run.py --reproduce build/fuzz/crashes/wire.feed-crash-....bin

Exit status: 0 when every target finished with no crash and no hang, 1 otherwise.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import fuzzlib  # noqa: E402
import targets  # noqa: E402

CRASH_DIR = ROOT / "build" / "fuzz" / "crashes"
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
MP_TARGET = "mp.wire"


def have_atheris() -> bool:
    return importlib.util.find_spec("atheris") is not None


def atheris_result(name: str, proc: subprocess.CompletedProcess, seconds: float) -> dict:
    """The figures libFuzzer printed (stat::...) and what its exit status says."""
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", proc.stderr, re.M))
    saved = re.findall(r"Test unit written to (\S+)", proc.stderr)
    for path in saved:
        print(f"  {name}: {'hang' if proc.returncode == 70 else 'crash'} -> {path}")
    runs = int(stats.get("number_of_executed_units", 0))
    interrupted = proc.returncode in (72, 130, -2)  # SIGINT: figures so far, not a finding
    result = {"target": name, "engine": "atheris", "runs": runs, "seconds": round(seconds, 1),
              "inputs_per_s": int(stats.get("average_exec_per_sec", 0)),
              "crashes": int(proc.returncode not in (0, 70) and not interrupted),
              "hangs": int(proc.returncode == 70),
              "new_coverage_units": int(stats.get("new_units_added", 0)), "saved": saved}
    if interrupted:
        result["error"] = "interrupted"
    elif proc.returncode not in (0, 70, 77) or not runs:
        tail = proc.stderr.strip().splitlines()[-5:]
        result["error"] = f"exited {proc.returncode}: " + " | ".join(tail)
    return result


def run_child(name: str, runs: int, seed: int, hang_s: float, engine: str = "loop") -> dict:
    """One target in its own interpreter; its JSON result on the last stdout line
    (atheris: libFuzzer's figures on stderr)."""
    if engine == "atheris" and name != MP_TARGET:
        cmd = [sys.executable, str(HERE / "atheris_child.py"), name, str(runs), str(seed),
               str(hang_s), str(CRASH_DIR)]
        budget = 300 + runs / 100
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return {"target": name, "engine": "atheris", "runs": 0, "crashes": 0, "hangs": 1,
                    "seconds": budget, "inputs_per_s": 0,
                    "error": f"did not finish within {budget:.0f} s"}
        return atheris_result(name, proc, time.monotonic() - started)
    if name == MP_TARGET:
        # The unix port does some 1,500 inputs a second: a tenth of the budget.
        runs = max(1000, runs // 10)
        cmd = [str(MICROPYTHON), "-X", "heapsize=4M", str(HERE / "mp_wire.py"), str(runs),
               str(seed)]
        env = dict(os.environ, MICROPYPATH=str(ROOT / "shared"))
    else:
        cmd = [sys.executable, str(HERE / "run.py"), "--child", name, "--runs", str(runs),
               "--seed", str(seed), "--hang", str(hang_s)]
        env = dict(os.environ)
    # Generous: the slowest target does a few thousand inputs a second.
    budget = 120 + runs / 200
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, env=env,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"target": name, "runs": 0, "crashes": 0, "hangs": 1, "seconds": budget,
                "inputs_per_s": 0, "error": f"did not finish within {budget:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(f"  {line}")
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"target": name, "runs": 0, "crashes": 1, "hangs": 0,
                "seconds": round(time.monotonic() - started, 1), "inputs_per_s": 0,
                "error": f"exited {proc.returncode}: " + " | ".join(tail)}
    return result


def child(name: str, runs: int, seed: int, hang_s: float) -> int:
    from evwire import trace

    # Refusals are logged as warnings: a million of them would only slow the run.
    trace.configure(level="error", sink=lambda _line: None)
    target = targets.by_name(name)
    result = fuzzlib.fuzz(target, runs, seed, CRASH_DIR, hang_s,
                          log=lambda text: print(text, flush=True))
    print(json.dumps(result.as_dict()), flush=True)
    return 0


def report_line(r: dict) -> str:
    extra = f"  ({r['error']})" if r.get("error") else ""
    return (f"{r['target']:<18} {r['runs']:>9} inputs {r.get('seconds', 0):>8.1f} s "
            f"{r.get('inputs_per_s', 0):>8} /s  crashes {r['crashes']}  hangs {r['hangs']}{extra}")


def markdown(results: list[dict], engine: str, seed: int) -> str:
    """The figures as the table docs/FUZZING.md shows."""
    lines = [f"engine {engine}, seed {seed}, {time.strftime('%Y-%m-%d')}", "",
             "| target | inputs | seconds | inputs/s | crashes | hangs | slowest input |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        slowest = f"{r['slowest_ms']:.0f} ms" if "slowest_ms" in r else "-"
        lines.append(f"| `{r['target']}` | {r['runs']:,} | {r.get('seconds', 0):.0f} | "
                     f"{r.get('inputs_per_s', 0):,} | {r['crashes']} | {r['hangs']} | {slowest} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=int(os.environ.get("FUZZ_RUNS", 1_000_000)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 1)))
    ap.add_argument("--hang", type=float, default=1.0, help="seconds before an input is a hang")
    ap.add_argument("--only", nargs="*", help="target names (default: all)")
    ap.add_argument("--engine", choices=("auto", "atheris", "loop"), default="auto",
                    help="atheris (coverage-guided, when installed: make fuzz) or the plain "
                         "random loop (no extra package: make fuzz-smoke); auto: atheris if "
                         "installed")
    ap.add_argument("--report", default=str(ROOT / "build" / "fuzz" / "report.json"))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--reproduce", metavar="FILE")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    names = targets.names() + [MP_TARGET]
    if args.list:
        for name in names:
            print(f"{name:<18} {targets.about(name)}")
        return 0
    if args.child:
        return child(args.child, args.runs, args.seed, args.hang)
    if args.reproduce:
        path = Path(args.reproduce)
        name = re.split(r"-(?:crash|hang|timeout)-", path.name)[0]
        text = fuzzlib.reproduce(targets.by_name(name), path.read_bytes())
        print(text or f"{name}: the input passes now")
        return 1 if text else 0
    chosen = args.only or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        ap.error(f"unknown target(s): {', '.join(unknown)} (see --list)")
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if have_atheris() else "loop"
    elif engine == "atheris" and not have_atheris():
        ap.error("atheris is not installed (make fuzz installs the 'fuzz' extra)")
    print(f"fuzzing {len(chosen)} target(s), {args.runs} inputs each, seed {args.seed}, "
          f"engine {engine}")
    results = []
    for name in chosen:
        result = run_child(name, args.runs, args.seed, args.hang, engine)
        print(report_line(result), flush=True)
        results.append(result)
    report = Path(args.report)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"runs": args.runs, "seed": args.seed, "engine": engine,
                                  "targets": results},
                                 indent=1) + "\n")
    report.with_suffix(".md").write_text(markdown(results, engine, args.seed))
    bad = [r for r in results if r["crashes"] or r["hangs"] or not r["runs"] or r.get("error")]
    total = sum(r["runs"] for r in results)
    print(f"{total} inputs, {len(results)} targets, engine {engine}, "
          f"{'FAILED: ' + ', '.join(r['target'] for r in bad) if bad else '0 crashes, 0 hangs'}"
          f"; report {report}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
