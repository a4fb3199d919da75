"""Every fuzz target for a short budget inside `make test`: 0 crashes, 0 hangs.

`make fuzz-smoke` (CI) and `make fuzz` (1,000,000 inputs per target) run the same
targets longer, each in its own process; see docs/FUZZING.md."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import fuzzlib
import pytest
import targets

from evwire import trace

ROOT = Path(__file__).resolve().parents[2]
BUDGET = int(os.environ.get("EVCHARGE_FUZZ_TEST_RUNS", "1500"))


@pytest.fixture(autouse=True)
def quiet_refusals():
    trace.configure(level="error", sink=lambda _line: None)
    yield
    trace.configure(level="info", sink=None)


@pytest.mark.parametrize("name", targets.names())
def test_target_survives_a_short_budget(name, tmp_path):
    result = fuzzlib.fuzz(targets.by_name(name), BUDGET, seed=7, out_dir=tmp_path / "crashes")
    assert result.runs == BUDGET
    assert (result.crashes, result.hangs) == (0, 0), result.saved


def test_micropython_decoder_survives_a_short_budget(micropython, tmp_path):
    done = subprocess.run([micropython, "-X", "heapsize=4M",
                           str(ROOT / "tools" / "fuzz" / "mp_wire.py"), "500", "7"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=dict(os.environ, MICROPYPATH=str(ROOT / "shared")))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["runs"], result["crashes"], result["hangs"]) == (500, 0, 0), done.stdout


def test_a_crash_is_counted_saved_and_reproducible(tmp_path):
    """The loop itself: a target that breaks on some inputs is caught, not trusted."""
    def setup(_workdir):
        def run(data):
            if data[:1] == b"\x01":
                raise KeyError("boom")
        return run

    target = fuzzlib.Target("demo", lambda rng: bytes([rng.randint(0, 3)]), setup)
    result = fuzzlib.fuzz(target, 200, seed=1, out_dir=tmp_path)
    assert 0 < result.crashes < 200 and result.hangs == 0
    saved = Path(result.saved[0])
    assert saved.read_bytes() == b"\x01"
    assert "KeyError: 'boom'" in saved.with_suffix(".txt").read_text()
    assert "KeyError" in fuzzlib.reproduce(target, saved.read_bytes())


def test_hangs_are_interrupted_and_counted(tmp_path):
    """A busy loop (CPU-time alarm) and an input that waits forever (wall-clock alarm)."""
    def setup(_workdir):
        def run(data):
            while data == b"\x02":
                try:
                    pass
                except Exception:  # the code under test cannot swallow the alarm
                    pass
            if data == b"\x03":
                time.sleep(60)
        return run

    target = fuzzlib.Target("spin", lambda rng: bytes([rng.randint(1, 3)]), setup)
    started = time.monotonic()
    result = fuzzlib.fuzz(target, 12, seed=3, out_dir=tmp_path, hang_s=0.1)
    replay = random.Random(3)
    inputs = [replay.randint(1, 3) for _ in range(12)]  # what the fuzzer generated
    assert 2 in inputs and 3 in inputs
    assert result.runs == 12 and result.crashes == 0
    assert result.hangs == sum(1 for x in inputs if x != 1) and result.saved
    assert time.monotonic() - started < 30


def test_the_runner_reports_and_fails_on_a_crash(tmp_path):
    """run.py: figures in the report, exit 0 when clean; exit 1, FAILED and the input
    saved when a target crashes (CI's exit status relies on it)."""
    run_py = str(ROOT / "tools" / "fuzz" / "run.py")
    # The loop engine, as CI runs it (atheris, if installed, is for make fuzz).
    clean = subprocess.run([sys.executable, run_py, "--only", "wire.validate", "--runs", "300",
                            "--engine", "loop", "--report", str(tmp_path / "ok.json")],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 crashes, 0 hangs" in clean.stdout
    figures = json.loads((tmp_path / "ok.json").read_text())["targets"][0]
    assert figures["runs"] == 300 and figures["inputs_per_s"] > 0

    crashing = subprocess.run([sys.executable, run_py, "--only", "selftest.crash", "--engine",
                               "loop", "--runs", "50", "--report", str(tmp_path / "bad.json")],
                              capture_output=True, text=True, timeout=120, cwd=ROOT,
                              env=dict(os.environ, EVCHARGE_FUZZ_SELFTEST="1"))
    assert crashing.returncode == 1, crashing.stdout + crashing.stderr
    assert "FAILED: selftest.crash" in crashing.stdout
    saved = json.loads((tmp_path / "bad.json").read_text())["targets"][0]["saved"]
    assert saved and Path(saved[0]).read_bytes() == b"\x01"
    for path in saved:  # not left among real findings
        Path(path).unlink()
        Path(path).with_suffix(".txt").unlink()
