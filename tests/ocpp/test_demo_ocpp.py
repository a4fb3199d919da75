"""`evcharge demo --ocpp` (what `make demo DEMO_ARGS=--ocpp` runs): a simulated OCPP
wallbox joins the MicroPython charge points and is billed like them."""
from __future__ import annotations

import os
import re
import subprocess

from evharness.procs import bin_path


def test_demo_adds_an_ocpp_wallbox_and_bills_it_against_its_meter(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EVCHARGE_KAFKA_NAMESPACE"}
    workdir = tmp_path / "demo"
    done = subprocess.run([bin_path("evcharge"), "demo", "--ocpp", "--cps", "1", "--runtime",
                           "cpython", "--workdir", str(workdir)], capture_output=True,
                          text=True, timeout=300, env=env)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-2000:]
    assert "OCPP wallbox WB1 connected" in out and "WB1 AVAILABLE" in out
    assert re.search(r"^D1 +WB1 +\w+ +completed", out, re.M), out
    assert re.search(r"^  WB1: 1 session\(s\) billed .* PASS$", out, re.M), out
    assert "PASS: every kWh" in out
    assert "Traceback" not in out + done.stderr
    log = (workdir / "logs" / "ocpp-WB1.log").read_text()
    assert "ready WB1 booted" in log and "stopped (Remote)" in log
