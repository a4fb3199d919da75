"""The Monitor's secret comes from a 0600 file or the environment, never argv."""
from __future__ import annotations

import os
import subprocess

from evharness.procs import bin_path

BASE = ["monitor", "--cp-id", "CP1", "--engine", "127.0.0.1:1", "--central", "127.0.0.1:1"]


def monitor(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EVCHARGE_")}
    return subprocess.run([bin_path("evcharge"), *BASE, *args], capture_output=True, text=True,
                          timeout=30, env={**clean, **(env or {})})


def test_secret_on_the_command_line_is_refused_without_echoing_it():
    done = monitor("--secret", "hunter2-secret")
    assert done.returncode == 2
    assert done.stderr.startswith("evcharge monitor: error: --secret is not accepted")
    assert "--secret-file" in done.stderr and "hunter2-secret" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_secret_file_others_may_read_is_refused(tmp_path):
    secret = tmp_path / "cp1.secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o640)
    done = monitor("--secret-file", str(secret))
    assert done.returncode == 5  # configuration
    assert done.stderr.strip() == (f"evcharge monitor: error: secret_file: {secret} may be read "
                                   f"by others (mode 0640): chmod 600 {secret}")
    missing = monitor("--secret-file", str(tmp_path / "nope"))
    assert missing.returncode == 5 and "cannot read" in missing.stderr


def test_no_secret_at_all_names_both_ways():
    done = monitor()
    assert done.returncode == 5
    assert "secret is required (--secret-file FILE" in done.stderr
    assert "EVCHARGE_SECRET" in done.stderr
