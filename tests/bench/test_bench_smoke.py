"""`make bench-smoke` end to end: every part runs and the report has its whole structure.

Only the structure is checked (sections, tables, the figure, the JSON's
fields and their kinds), never a timing: a slow machine changes the numbers,
not the shape of the report.
"""
from __future__ import annotations

import json
import sys

from evbench.report import structure_problems
from evharness.procs import ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VERDICTS = {"met", "missed", "not measured", "not measured at 10,000"}


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_smoke_benchmark_writes_a_complete_report(procs, tmp_path, kafka_bootstrap, kafka_ns):
    out = tmp_path / "smoke"
    bench = procs.start("bench-smoke", [sys.executable, str(ROOT / "tools" / "bench_all.py"),
                                        "--smoke", "--out-dir", str(out),
                                        "--kafka", kafka_bootstrap])
    code = bench.popen.wait(timeout=240)
    assert code == 0, bench.log()[-4000:]

    text = (out / "report.md").read_text()
    assert structure_problems(text) == []
    assert (out / "report.png").read_bytes().startswith(PNG_MAGIC)
    data = json.loads((out / "report.json").read_text())
    assert data["mode"] == "smoke" and data["crashes"] == []
    assert data["losses"] == []  # exit 0 above also means this: bench_all fails on a loss

    machine = data["machine"]
    for key in ("cores", "memory_gib", "python", "micropython", "kafka_broker", "date_utc"):
        assert machine[key], key
    assert len(data["headline"]) == 6
    assert {row["verdict"] for row in data["headline"]} <= VERDICTS

    step = data["load"]["steps"][0]
    assert step["cps"] == 50 and "error" not in step
    tele = step["telemetry"]
    assert tele["sent"] > 0 and is_number(tele["received"]) and is_number(tele["lost"])
    for figure in (tele["latency"], step["probes"]["request_to_command"],
                   step["ramp"]["request_to_command"], step["heartbeat_rtt"]):
        assert is_number(figure["p50_ms"]) and is_number(figure["p99_ms"])
    assert is_number(step["central"]["cpu_percent"]) and is_number(step["central"]["rss_mib"])
    storm = step["storm"]
    assert storm["cps"] == 50 + step["probe_cps"] and isinstance(storm["all_available"], bool)
    profile = data["load"]["profile"]
    assert profile["top"] and profile["top_total"] and is_number(profile["busy_s"])

    through = data["monitor"]["outbox"]["through_monitor"]
    for phase in ("replay", "live"):
        assert through[phase]["sent"] == through[phase]["delivered"] > 0, phase
    faults = data["monitor"]["fault_detection"]
    assert is_number(faults["engine_kill_to_faulted"]["median_s"])
    assert is_number(data["engine"]["heap"]["live_peak_bytes"])
    assert is_number(data["engine"]["bundle_bytes"])
    assert is_number(data["wire"]["cpython"]["evwire_cbor2_frames_per_s"])
    for heading in ("## Hub under load", "## Fault detection", "## Firmware", "## Codec"):
        section = text.split(heading, 1)[1].split("\n## ", 1)[0]
        assert "Not measured" not in section, heading
