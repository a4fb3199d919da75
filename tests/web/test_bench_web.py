"""tools/bench_web.py's smoke run (50 CPs, 5 s): it completes and reports every figure."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_web_smoke_reports_latency_cpu_and_api_figures(tmp_path):
    out = tmp_path / "web.json"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "bench_web.py"), "--smoke",
                           "--out", str(out)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["cps"] == 50 and report["sessions"] == 50
    assert report["update_latency"]["count"] > 0
    assert report["updates_per_console_per_s"] > 0
    assert report["api_get_cps"]["count"] >= 3
    for window in ("central_without_console", "central_with_consoles"):
        assert report[window]["cpu_percent"] is not None
