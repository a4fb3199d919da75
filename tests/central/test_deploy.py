"""What `make install-central` installs: the unit, the sample settings, the admin token."""
from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from evcentral.cli import run_parser
from evharness.staging import fake_system_tools, make_install
from evhost.secretfile import read_secret_file

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "hub" / "evcentral" / "deploy"
UNIT = DEPLOY / "evcharge-central.service"
SAMPLE = DEPLOY / "central.env.example"
SCRIPT = ROOT / "tools" / "install-central.sh"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_unit_is_a_notify_service_with_watchdog_restart_and_its_own_user():
    unit = unit_settings()
    one = {key: values[-1] for key, values in unit.items()}
    assert one["Type"] == "notify" and one["NotifyAccess"] == "main"
    assert one["Restart"] == "on-failure" and int(one["WatchdogSec"]) == 10
    assert one["User"] == "evcharge" and one["StateDirectory"] == "evcharge"
    assert one["EnvironmentFile"] == "-/etc/evcharge/central.env"
    assert int(one["TimeoutStopSec"]) > 5  # Central stops within 5 s
    exec_start = shlex.split(one["ExecStart"])
    assert exec_start[:2] == ["/opt/evcharge/venv/bin/evcharge", "central"]
    assert exec_start[exec_start.index("--db") + 1] == "/var/lib/evcharge/central.db"
    assert exec_start[exec_start.index("--admin-token-file") + 1] == "/etc/evcharge/admin.token"
    assert "--admin-token" not in exec_start  # no secret in argv
    for hardening in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"):
        assert hardening in unit


def test_the_sample_settings_make_a_command_line_central_accepts():
    """ExecStart with central.env.example's values, expanded as systemd does: ${X} one
    word, $X split on whitespace; Central's own parser accepts it."""
    env = env_file(SAMPLE)
    assert not any("token" in key.lower() or "secret" in key.lower() for key in env)
    words = []
    exec_start = next(v for v in unit_settings()["ExecStart"])
    for word in shlex.split(exec_start)[2:]:
        if word.startswith("${"):
            words.append(env[word[2:-1]])
        elif word.startswith("$"):
            words.extend(env[word[1:]].split())
        else:
            words.append(word)
    ns = run_parser().parse_args(words)
    assert ns.listen == ("127.0.0.1", 7000) and ns.kafka == "127.0.0.1:9092"
    assert ns.admin_token_file == "/etc/evcharge/admin.token"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_unit(tmp_path):
    # The same unit with an executable that exists here, so only real problems are reported.
    text = UNIT.read_text().replace("/opt/evcharge/venv/bin/evcharge", shutil.which("true"))
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                          text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if UNIT.name in line]
    assert problems == []


def install(stage: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return make_install("install-central", stage, env)


def test_make_install_central_into_a_destdir(tmp_path):
    env, calls = fake_system_tools(tmp_path)
    stage = tmp_path / "root"
    first = install(stage, env)
    assert first.returncode == 0, first.stderr
    unit = stage / "etc/systemd/system/evcharge-central.service"
    conf = stage / "etc/evcharge/central.env"
    token = stage / "etc/evcharge/admin.token"
    assert unit.read_text() == UNIT.read_text() and mode_of(unit) == 0o644
    assert conf.read_text() == SAMPLE.read_text() and mode_of(conf) == 0o640
    assert (stage / "etc/evcharge/central.env.example").exists()
    assert (stage / "opt/evcharge/docs/CENTRAL.md").exists()
    assert mode_of(token) == 0o600
    secret = read_secret_file(token)  # what Central accepts: 0600, text, long enough
    assert len(secret) >= 24
    assert secret not in first.stdout + first.stderr  # never printed
    assert not (stage / "opt/evcharge/venv").exists()  # a venv is not relocatable
    assert not (stage / "var").exists()  # the state dir is systemd's (StateDirectory=)
    assert not calls.exists(), calls.read_text()  # no systemctl, sudo, useradd, chown

    conf.write_text("EVCHARGE_CENTRAL_LISTEN=127.0.0.1:7100\n")
    again = install(stage, env)
    assert again.returncode == 0, again.stderr
    assert conf.read_text() == "EVCHARGE_CENTRAL_LISTEN=127.0.0.1:7100\n"
    assert read_secret_file(token) == secret  # the operators' token is kept
    assert "keeping the existing" in again.stdout


def test_install_script_refuses_unknown_options():
    done = subprocess.run(["bash", str(SCRIPT), "--bogus"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    assert "unknown option '--bogus'" in done.stderr
