"""`evcharge engine` stops with status 0 on a SIGTERM to its process group (what systemd
and the harness send), on either runtime: the micropython child dies of that SIGTERM
itself (the unix port has no signal handling), which once made the command exit 241."""
from __future__ import annotations

import pytest

from evengine.cli import micropython_exit
from evharness.engine import start_engine
from evharness.sim import start_sim


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_engine_exits_0_on_sigterm_to_its_process_group(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path)
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime)
    assert engine.proc.terminate(timeout=20) == 0, engine.proc.log()
    assert "Traceback" not in engine.proc.log()


def test_a_child_killed_by_another_signal_is_reported_as_a_shell_would():
    assert micropython_exit(0, False) == 0
    assert micropython_exit(3, True) == 3
    assert micropython_exit(-15, True) == 0
    assert micropython_exit(-15, False) == 143
    assert micropython_exit(-9, True) == 137
