"""`tools/bench_cluster.py --quick` end to end: 1, 2 and 3 Centrals on one PostgreSQL
database, then the failover; the report has its whole structure.

Only the structure is checked, never a timing (a slow machine changes the numbers, not
the shape). The pg_cluster fixture is the gate: without PostgreSQL's server binaries
the test is skipped with the reason printed, and fails under CI=true. The tool starts
its own private cluster as that fixture does.
"""
from __future__ import annotations

import json
import sys

from evharness.procs import ROOT


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_quick_cluster_benchmark_writes_a_complete_report(procs, tmp_path, pg_cluster,
                                                          kafka_bootstrap, kafka_ns):
    out = tmp_path / "cluster.json"
    bench = procs.start("bench-cluster", [sys.executable, str(ROOT / "tools" / "bench_cluster.py"),
                                          "--quick", "--kafka", kafka_bootstrap,
                                          "--out", str(out)])
    code = bench.popen.wait(timeout=240)
    assert code == 0, bench.log()[-4000:]

    data = json.loads(out.read_text())
    assert "error" not in data, data.get("error")
    assert data["machine"]["postgresql"] and isinstance(data["cluster_mode"], bool)
    steps = data["steps"]
    assert sorted(s["centrals"] for s in steps) == [1, 2, 3]
    for step in steps:
        assert step["cps"] == 40 and "error" not in step, step.get("error")
        assert sum(step["connected_per_central"].values()) == 40
        assert len(step["connected_per_central"]) == step["centrals"]
        tele = step["telemetry"]
        assert tele["sent"] > 0 and tele["lost"] == 0
        assert is_number(tele["latency"]["p99_ms"])
        assert is_number(step["central"]["cpu_percent"])
        assert step["tickets"]["received"] == step["tickets"]["expected"] == 40
    assert set(data["largest_cps_meeting_goal"]) == {"1", "2", "3"}

    failover = data["failover_step"]["failover"]
    assert failover["cps_on_killed"] == 20
    assert failover["reregistered"] == 20 and is_number(failover["all_reregistered_s"])
    assert failover["telemetry_back_cps"] == failover["charging_cps"] == 40
    assert is_number(failover["telemetry_back_all_s"])
    assert data["failover_step"]["tickets"]["received"] == 40

    text = out.with_suffix(".md").read_text()
    for heading in ("## CPs carried at 1 Hz", "## Failover"):
        assert heading in text
    assert "share this machine's cores" in text
