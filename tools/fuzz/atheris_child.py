"""One target under atheris (libFuzzer, coverage-guided), started by run.py:

    python tools/fuzz/atheris_child.py NAME RUNS SEED HANG_S CRASH_DIR

The target's own generator writes a seed corpus (valid frames, catalogue
messages, conversations), which libFuzzer then mutates, guided by the coverage
of the instrumented evwire/evcentral/evengine/evmonitor/evdriver code. libFuzzer
prints its figures (stat::...) on stderr and stops at the first crash (exit 77)
or hang (exit 70), saving the input as CRASH_DIR/NAME-crash-... or -timeout-....
"""
from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    import targets

    TARGET = targets.by_name(sys.argv[1])

from evwire import trace  # noqa: E402

SEEDS = 200


def main() -> None:
    name, runs, seed, hang_s, crash_dir = sys.argv[1:6]
    trace.configure(level="error", sink=lambda _line: None)
    work = Path(tempfile.mkdtemp(prefix=f"evfuzz-{name}-"))
    corpus = work / "corpus"
    corpus.mkdir()
    rng = random.Random(int(seed))
    for i in range(SEEDS):
        (corpus / f"seed-{i}").write_bytes(TARGET.generate(rng))
    Path(crash_dir).mkdir(parents=True, exist_ok=True)
    run = TARGET.setup(work / "target")
    argv = [sys.argv[0], f"-runs={runs}", f"-seed={seed}",
            f"-timeout={max(1, round(float(hang_s)))}", "-error_exitcode=77",
            "-timeout_exitcode=70", "-print_final_stats=1", "-max_len=8192",
            f"-artifact_prefix={crash_dir}/{name}-", str(corpus)]
    atheris.Setup(argv, run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
