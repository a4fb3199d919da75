"""`evcharge mqtt-bridge` refuses bad options with one line and status 2, before
starting anything; secrets never on the command line."""
from __future__ import annotations

import os
import subprocess

import pytest

from evharness.procs import bin_path


def bridge(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path("evcharge"), "mqtt-bridge", *args], capture_output=True,
                          text=True, timeout=30, env={**os.environ, **(env or {})})


@pytest.fixture
def loose_file(tmp_path):
    path = tmp_path / "pw"
    path.write_text("secret\n")
    os.chmod(path, 0o644)
    return str(path)


@pytest.mark.parametrize("args, says, code", [  # 2: the command line, 5: a file (cliout)
    (["--mqtt", "nohost"], "expected HOST:PORT", 2),
    (["--mqtt", "127.0.0.1:1", "--prefix", "a/#"], "--prefix", 2),
    (["--mqtt", "127.0.0.1:1", "--mqtt-ca", "/nonexistent.pem"], "--mqtt-ca", 5),
    (["--embedded-broker", "10.1.2.3:1883"], "loopback only", 2),
    (["--mqtt-username", "bridge"], "the embedded broker makes its own", 2),
    (["--mqtt", "127.0.0.1:1", "--admin-token-file", "/nonexistent"], "admin token", 5),
])
def test_bad_options_one_line(args, says, code):
    out = bridge(*args)
    assert out.returncode == code, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evcharge mqtt-bridge: error:"), out.stderr
    assert says in lines[0]
    assert "Traceback" not in out.stderr


def test_password_file_readable_by_others_is_refused(loose_file):
    out = bridge("--mqtt", "127.0.0.1:1", "--mqtt-username", "u",
                 "--mqtt-password-file", loose_file)
    assert out.returncode == 5 and "chmod 600" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_password_needs_a_username():
    out = bridge("--mqtt", "127.0.0.1:1", env={"EVCHARGE_MQTT_PASSWORD": "pw"})
    assert out.returncode == 2 and "--mqtt-username" in out.stderr, out.stderr
