"""The benchmark's own logic: percentiles, goal verdicts, profiles, report shape, bad input."""
from __future__ import annotations

import cProfile
import subprocess
import sys

from evbench import goals
from evbench.headline import headline
from evbench.metrics import Latencies, percentile, summarise_ms
from evbench.plot import plot_latency
from evbench.profiling import top_functions
from evbench.report import render, structure_problems
from evharness.procs import ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def step(cps=100, p99=400.0, lost=0, accepted=None, error=None) -> dict:
    s = {"cps": cps,
         "telemetry": {"sent": 1000, "lost": lost, "offered_per_s": cps, "forwarded_per_s": cps,
                       "latency": {"count": 900, "p50_ms": p99 / 2, "p99_ms": p99}},
         "ramp": {"requested": cps, "accepted": cps if accepted is None else accepted,
                  "refused": {}, "request_to_command": {"p50_ms": 1.0, "p99_ms": 2.0}},
         "probes": {"request_to_command": {"p50_ms": 1.0, "p99_ms": 3.0}},
         "tickets": {"expected": cps, "received": cps},
         "central": {"cpu_percent": 20.0, "rss_mib": 40.0},
         "generator": {"cpu_percent": 10.0, "tick_lag": {"p99_ms": 2.0}},
         "storm": {"cps": cps, "all_registered_s": 2.5, "register_status": {"AVAILABLE": cps},
                   "listed_by_central": {"AVAILABLE": cps}}}
    if error:
        s["error"] = error
    return s


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) is None
    summary = summarise_ms([0.001, 0.002, 0.010])
    assert summary == {"count": 3, "p50_ms": 2.0, "p99_ms": 10.0, "max_ms": 10.0}
    recorder = Latencies()
    recorder.extend([0.5, 0.25])
    assert recorder.summary()["max_ms"] == 500.0


def test_goal_judgement_of_steps():
    assert goals.step_failures(step()) == []
    slow = goals.step_failures(step(p99=1500.0))
    assert slow and "p99" in slow[0]
    assert "lost" in goals.step_failures(step(lost=3))[0]
    assert "sessions started" in goals.step_failures(step(accepted=90))[0]
    assert not goals.clearly_failed(step(p99=1500.0))
    assert goals.clearly_failed(step(p99=9000.0))
    assert goals.clearly_failed(step(lost=100))
    assert goals.clearly_failed(step(error="TimeoutError: x"))


def test_headline_verdicts_follow_the_figures():
    data = {"load": {"steps": [step(100), step(1000, p99=1200.0)],
                     "largest_cps_meeting_goal": 100},
            "monitor": {"fault_detection": {"engine_kill_to_faulted": {
                "median_s": 0.01, "runs_s": [0.01] * 10}}},
            "engine": {"heap": {"live_peak_bytes": 60000}, "bundle_bytes": 50000}}
    verdicts = [row["verdict"] for row in headline(data)]
    # hub, request -> command, Engine death, Engine heap, bundle, storm (the order)
    assert verdicts == ["missed", "met", "met", "missed", "met", "not measured at 10,000"]


def test_report_has_every_section_even_when_parts_failed(tmp_path):
    data = {"mode": "smoke", "command": "make bench-smoke", "machine": {"cores": 2},
            "load": {"steps": [step(50, error="RuntimeError: Central died")], "skipped": []},
            "monitor": {"error": "exited with status 1"}, "engine": None,
            "wire": {"error": "timed out"}, "profile_before": None}
    text = render(data, "report.png")
    assert structure_problems(text) == []
    assert "Not measured: tools/bench_monitor.py failed (exited with status 1)" in text
    assert "did not complete (RuntimeError: Central died)" in text
    plot = plot_latency(data["load"], data["machine"], tmp_path / "report.png")
    assert plot.read_bytes().startswith(PNG_MAGIC)


def test_structure_check_names_what_is_missing():
    problems = structure_problems("# Benchmarks\n\n## Machine\n")
    assert "missing section '## Profiling'" in problems
    assert "missing the latency figure" in problems


def busy_loop() -> int:
    return sum(i * i for i in range(200000))


def test_top_functions_reads_a_pstats_profile(tmp_path):
    path = tmp_path / "run.pstats"
    profiler = cProfile.Profile()
    profiler.runcall(busy_loop)
    profiler.dump_stats(str(path))
    top = top_functions(path, count=5)
    assert top["busy_s"] > 0
    assert any(row["function"] in ("busy_loop", "<genexpr>") for row in top["top"])
    assert all(row["where"] for row in top["top"])


def run_tool(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_bad_options_get_one_line_and_status_2():
    for argv, words in (
            (("-m", "evbench.loadgen", "--cps", "0"), "must be a whole number above 0"),
            (("-m", "evbench.loadgen", "--probe-cps", "-1"), "must be a whole number, 0 or more"),
            (("-m", "evbench.loadgen", "--window", "soon"), "is not a number"),
            (("-m", "evbench.loadgen", "--kafka", "nohost"), "expected HOST:PORT"),
            (("tools/bench_all.py",), "one of the arguments --full --smoke is required"),
            (("tools/bench_all.py", "--smoke", "--kafka", "x"), "expected HOST:PORT"),
    ):
        done = run_tool(*argv)
        assert done.returncode == 2, (argv, done.stderr)
        assert words in done.stderr
        assert "Traceback" not in done.stderr


def test_a_heartbeats_only_storm_answers_the_storm_goal():
    storm = step(10000)
    storm.update(heartbeats_only=True, telemetry=None, ramp=None)
    data = {"load": {"steps": [step(100)], "storm_step": storm}}
    row = [r for r in headline(data) if r["goal"].startswith("reconnect storm")][0]
    assert row["verdict"] == "met" and row["measured"] == "10,000 CPs in 2.5 s"
    storm["storm"]["all_registered_s"] = 75.0
    row = [r for r in headline(data) if r["goal"].startswith("reconnect storm")][0]
    assert row["verdict"] == "missed"
    text = render({"mode": "test", "machine": {}, "load": data["load"]}, "report.png")
    assert "| 10,000 (heartbeats only) |" in text
    assert "µs per heartbeat" in text
