"""What `make install-monitor` installs: the unit, the sample config, the script itself."""
from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from evharness.staging import fake_system_tools, make_install
from evmonitor import config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "firmware" / "evmonitor" / "deploy"
UNIT = DEPLOY / "evcharge-monitor.service"
SAMPLE = DEPLOY / "monitor.toml.example"
SCRIPT = ROOT / "tools" / "install-monitor.sh"


def unit_settings() -> dict[str, str]:
    settings = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def test_unit_is_a_notify_service_with_watchdog_and_restart():
    unit = unit_settings()
    assert unit["Type"] == "notify"
    assert unit["NotifyAccess"] == "main"
    assert unit["Restart"] == "on-failure"
    assert int(unit["WatchdogSec"]) == 10
    assert unit["ExecStart"] == ("/opt/evcharge/venv/bin/evcharge monitor "
                                 "--config /etc/evcharge/monitor.toml")
    assert unit["StateDirectory"] == "evcharge"  # where the sample puts the outbox


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


def test_sample_config_uses_only_known_settings_and_is_valid():
    values = config.read_file(str(SAMPLE))
    assert values["outbox"] == "/var/lib/evcharge/outbox.sqlite3"
    cfg = config.build(str(SAMPLE), {"secret": "from-a-flag"}, environ={})
    assert cfg.cp_id == "CP1" and cfg.engine_endpoint is not None
    assert cfg.health_interval == 1.0 and cfg.outbox_bound == 10000


def test_install_script_into_a_staging_root_keeps_an_existing_config(tmp_path):
    argv = ["bash", str(SCRIPT), "--root", str(tmp_path), "--skip-venv", "--no-user",
            "--no-systemctl"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    unit = tmp_path / "etc/systemd/system/evcharge-monitor.service"
    conf = tmp_path / "etc/evcharge/monitor.toml"
    assert unit.read_text() == UNIT.read_text()
    assert conf.read_text() == SAMPLE.read_text()
    assert (tmp_path / "opt/evcharge/docs/MONITOR.md").exists()

    conf.write_text('cp_id = "CP42"\n')
    again = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert conf.read_text() == 'cp_id = "CP42"\n'
    assert "keeping the existing" in again.stdout


def test_make_install_monitor_into_a_destdir(tmp_path):
    env, calls = fake_system_tools(tmp_path)
    stage = tmp_path / "root"
    done = make_install("install-monitor", stage, env)
    assert done.returncode == 0, done.stderr
    unit = stage / "etc/systemd/system/evcharge-monitor.service"
    conf = stage / "etc/evcharge/monitor.toml"
    assert unit.read_text() == UNIT.read_text() and stat.S_IMODE(unit.stat().st_mode) == 0o644
    assert conf.read_text() == SAMPLE.read_text() and stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert not (stage / "opt/evcharge/venv").exists()  # a venv is not relocatable
    assert not calls.exists(), calls.read_text()  # no systemctl, sudo, useradd, chgrp


def test_install_script_refuses_unknown_options():
    done = subprocess.run(["bash", str(SCRIPT), "--bogus"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    assert "unknown option '--bogus'" in done.stderr
