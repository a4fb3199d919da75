"""Bad arguments and unreachable services: one clear line, a documented exit code."""
from __future__ import annotations

import os
import subprocess

import pytest

from evharness.procs import bin_path, free_port


def driver(*args: str, state_dir=None) -> subprocess.CompletedProcess:
    argv = [bin_path("evcharge"), "driver", *args]
    if state_dir is not None:
        argv += ["--state-dir", str(state_dir)]
    env = {**os.environ, "EVCHARGE_DRIVER_SECRET": "secret-D1"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("args, complaint", [
    ([], "required"),
    (["--central", "127.0.0.1:1", "list"], "--id is required"),
    (["--id", "D1", "list"], "--central HOST:PORT is required"),
    (["--id", "D1", "--central", "nowhere", "list"], "expected HOST:PORT"),
    (["--id", "D 1", "--central", "127.0.0.1:1", "list"], "--id 'D 1'"),
    (["--id", "D1", "--central", "127.0.0.1:1", "fly"], "invalid choice: 'fly'"),
    (["--id", "D1", "--central", "127.0.0.1:1", "charge"], "CP"),
    (["--id", "D1", "--central", "127.0.0.1:1", "charge", "CP1", "--kwh", "-2"],
     "must be a number above 0"),
    (["--id", "D1", "--central", "127.0.0.1:1", "charge", "CP1", "--kwh", "lots"],
     "'lots' is not a number"),
    (["--id", "D1", "--central", "127.0.0.1:1", "charge", "CP1", "--kwh", "1",
      "--minutes", "2"], "not allowed with argument"),
    (["--id", "D1", "--central", "127.0.0.1:1", "history", "--limit", "0"],
     "whole number above 0"),
    (["--id", "D1", "--central", "127.0.0.1:1", "run", "f", "--pause", "-1"],
     "0 or more"),
])
def test_bad_arguments_give_usage_and_exit_2(args, complaint):
    result = driver(*args)
    assert result.returncode == 2
    assert "usage: evcharge driver" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("evcharge driver: error: ") and complaint in last, last
    assert "Traceback" not in result.stderr + result.stdout


def test_options_may_follow_the_command(tmp_path):
    """--id/--central after the command are the same options (no usage error)."""
    result = driver("list", "--id", "D1", "--central", f"127.0.0.1:{free_port()}",
                    "--kafka", f"127.0.0.1:{free_port()}", state_dir=tmp_path)
    assert result.returncode == 3, result.stderr


@pytest.mark.parametrize("content, complaint", [
    (None, "cannot read services file"),
    ("# only a comment\n\n", "names no charge point"),
    ("CP1\nCP2 CP3\n", "line 2: 'CP2 CP3' is not a charge point id"),
])
def test_bad_services_file_is_a_config_problem_exit_5(tmp_path, content, complaint):
    path = tmp_path / "services.txt"
    if content is not None:
        path.write_text(content)
    result = driver("--id", "D1", "--central", f"127.0.0.1:{free_port()}", "run", str(path),
                    state_dir=tmp_path / "state")
    assert result.returncode == 5
    assert result.stderr.startswith("evcharge driver: error: ") and complaint in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_central_and_kafka_unreachable_exit_3(tmp_path):
    central, kafka = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    result = driver("--id", "D1", "--central", central, "--kafka", kafka, "list",
                    state_dir=tmp_path)
    assert result.returncode == 3
    assert result.stderr == (f"evcharge driver: error: cannot reach Central at {central} "
                             "(Connection refused)\n")


def test_unreachable_in_json_mode_ends_with_an_error_object(tmp_path):
    result = driver("--id", "D1", "--central", f"127.0.0.1:{free_port()}", "--kafka",
                    f"127.0.0.1:{free_port()}", "--json", "history", state_dir=tmp_path)
    assert result.returncode == 3
    last = result.stdout.strip().splitlines()[-1]
    assert '"result": "error"' in last and '"exit_code": 3' in last


def test_unwritable_state_dir_is_a_config_problem(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = driver("--id", "D1", "--central", f"127.0.0.1:{free_port()}", "list",
                    state_dir=blocker / "state")
    assert result.returncode == 5
    assert "cannot use state directory" in result.stderr
