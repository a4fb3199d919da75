"""evcharge chaos: random cases of a whole network under faults, checked for invariants.

    evcharge chaos --seed S --cases N --report docs/CHAOS.md   # cases 1..N of seed S
    evcharge chaos --seed S --case K                           # reproduce case K alone

Each case (evharness.chaos.case) starts a fresh network (broker, Central, 2-4 CPs on
virtual hardware, MicroPython or CPython Engines), has drivers charge, injects 1-3
faults (evharness.chaos.faults) at the start handshake, mid-charge, the completion
hand-off or Central's commit, restores everything, lets it settle and checks the
invariants (evharness.chaos.invariants). The raw results go to build/chaos/seed-S.json,
the report (evharness.chaos.report) to --report and a PNG beside it.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

from evharness.chaos.case import CaseRun, make_plan
from evharness.chaos.faults import KINDS
from evharness.procs import ROOT

BUILD = ROOT / "build" / "chaos"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evcharge chaos", description=__doc__.split("\n")[0])
    p.add_argument("--seed", default="random",
                   help="the run's seed (an integer; default: a new random one)")
    p.add_argument("--cases", type=int, default=10, help="how many cases (default 10)")
    p.add_argument("--case", type=int, help="run only case K of the seed (reproduce it)")
    p.add_argument("--report", type=Path,
                   help="write the Markdown report here (and chaos.png beside it)")
    p.add_argument("--out", type=Path, default=BUILD,
                   help="raw JSON and the cases' workdirs (default build/chaos)")
    p.add_argument("--keep", action="store_true",
                   help="keep every case's workdir (logs, databases); default: failed only")
    p.add_argument("--kinds", default=",".join(KINDS),
                   help="the fault kinds to pick from, comma-separated (default: all: "
                        f"{', '.join(KINDS)})")
    p.add_argument("-v", "--verbose", action="store_true", help="print each fault as injected")
    return p


def parse_seed(text: str) -> int:
    if text in ("", "random"):
        return random.SystemRandom().randrange(1, 1_000_000)
    try:
        return int(text)
    except ValueError:
        raise SystemExit(f"evcharge chaos: --seed must be an integer, not {text!r}") from None


def result_line(r: dict) -> str:
    faults = ", ".join(f"{f['kind']}({f['target']})@{f['step_seen']}" for f in r["faults"])
    verdict = "PASS" if r["ok"] else "FAIL"
    return (f"case {r['case']:>3}: {verdict}  {r['cps']} CPs {r['runtime']:<11} "
            f"{r['duration_s']:5.1f}s  faults: {faults}")


def parse_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise SystemExit(f"evcharge chaos: unknown fault kind(s) {unknown}; known: "
                         f"{', '.join(KINDS)}")
    return kinds


def reproduce(seed: int, case: int, kinds: tuple[str, ...]) -> str:
    extra = "" if set(kinds) == set(KINDS) else f" --kinds {','.join(kinds)}"
    return f"evcharge chaos --seed {seed} --case {case}{extra}"


def run_case(seed: int, case: int, out: Path, keep: bool, verbose: bool,
             kinds: tuple[str, ...] = KINDS) -> dict:
    workdir = Path(out).resolve() / f"s{seed}" / f"c{case}"  # short: the sim's socket path must fit
    if workdir.exists():
        shutil.rmtree(workdir)
    log_path = workdir.parent / f"c{case}.log"  # the runner's own lines, kept
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")

    def log(text: str) -> None:
        with open(log_path, "a") as fh:
            fh.write(text + "\n")
        if verbose:
            print(text, flush=True)

    run = CaseRun(make_plan(seed, case, kinds), workdir, log=log)
    result = run.execute()
    if result["ok"] and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
        result["workdir"] = None
    return result


def write_raw(raw: Path, seed: int, results: list[dict]) -> None:
    raw.write_text(json.dumps({"seed": seed, "cases": results}, indent=1) + "\n")


def run(seed: int, cases: list[int], out: Path, keep: bool = False, verbose: bool = False,
        stream=sys.stdout, kinds: tuple[str, ...] = KINDS,
        raw: Path | None = None) -> list[dict]:
    """Run the cases, printing the seed first and one line per case; return the results."""
    print(f"chaos: seed {seed}, cases {cases[0]}..{cases[-1]}", file=stream, flush=True)
    results = []
    for case in cases:
        result = run_case(seed, case, out, keep, verbose, kinds)
        result["reproduce"] = reproduce(seed, case, kinds)
        results.append(result)
        if raw is not None:  # after every case: an interrupted run keeps what it found
            write_raw(raw, seed, results)
        print(result_line(result), file=stream, flush=True)
        if not result["ok"]:
            for v in result["invariants"]:
                if not v["ok"]:
                    print(f"    {v['name']}: {v['detail']}", file=stream)
            print(f"    logs: {result['workdir']}/logs", file=stream)
            print(f"    reproduce: {result['reproduce']}", file=stream, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    seed = parse_seed(str(args.seed))
    cases = [args.case] if args.case is not None else list(range(1, args.cases + 1))
    args.out = args.out.resolve()  # drivers run in the case's workdir: paths absolute
    args.out.mkdir(parents=True, exist_ok=True)
    kinds = parse_kinds(args.kinds)
    raw = args.out / f"seed-{seed}.json"
    results = run(seed, cases, args.out, args.keep, args.verbose, kinds=kinds, raw=raw)
    failed = [r["case"] for r in results if not r["ok"]]
    print(f"chaos: seed {seed}: {len(results) - len(failed)}/{len(results)} cases passed; "
          f"raw results {raw}")
    if args.report is not None:
        from evharness.chaos.report import write_report
        md, png = write_report(seed, results, args.report)
        print(f"chaos: report {md}, plot {png}")
    for r in results:
        if not r["ok"]:
            print(f"chaos: reproduce: {r['reproduce']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
