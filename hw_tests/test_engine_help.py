"""`evcharge engine --help` does not call the Engine CPython-only: the runner is
CPython, the options it documents work under MicroPython too (one is run here)."""
from __future__ import annotations

import subprocess

from evharness.procs import bin_path, free_port, port_open, wait_until


def test_help_does_not_claim_cpython_only():
    done = subprocess.run([bin_path("evcharge"), "engine", "--help"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "cpython only" not in done.stdout.lower(), done.stdout
    assert "MicroPython" in done.stdout


def test_a_documented_option_runs_under_micropython(procs, tmp_path):
    port = free_port()
    engine = procs.evcharge("engine", [
        "engine", "--cp-id", "CP9", "--listen", f"127.0.0.1:{port}", "--runtime",
        "micropython", "--sim", "--sim-time-scale", "30", "--tick", "0.5", "--menu", "off",
        "--state-dir", str(tmp_path / "state")])
    wait_until(lambda: port_open("127.0.0.1", port) or not engine.alive(), timeout=60,
               what="the Engine listening under micropython")
    assert engine.alive() and port_open("127.0.0.1", port), engine.log()
    assert "micropython" in " ".join(engine.popen.args)
    assert "Traceback" not in engine.log() and "unknown" not in engine.log().lower()
