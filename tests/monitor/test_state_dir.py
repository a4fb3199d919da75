"""The outbox's state directory: never created root-owned; otherwise created 0700.

The unit runs the Monitor as the evcharge user and systemd's StateDirectory= creates
/var/lib/evcharge. These tests hold whether they run as root (CI) or not: the rule is
checked in-process with os.geteuid patched both ways, and with a real process as
whoever runs the tests.
"""
from __future__ import annotations

import os
import stat

import pytest

from evmonitor import outbox as outbox_module
from evmonitor.outbox import Outbox, OutboxError
from evwire import types as t


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_as_root_a_missing_state_dir_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox_module.os, "geteuid", lambda: 0)
    state = tmp_path / "var-lib-evcharge"
    with pytest.raises(OutboxError) as refused:
        Outbox(str(state / "outbox.sqlite3"))
    text = str(refused.value)
    assert "\n" not in text
    assert f"{state} does not exist, and running as root" in text
    assert "evcharge user" in text and "StateDirectory=" in text and "--outbox" in text
    assert not state.exists()  # nothing root-owned left behind


def test_as_root_an_existing_state_dir_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox_module.os, "geteuid", lambda: 0)
    box = Outbox(str(tmp_path / "outbox.sqlite3"))
    assert box.depth == 0
    box.close()


def test_as_a_user_missing_directories_are_created_0700(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox_module.os, "geteuid", lambda: 1000)
    old_umask = os.umask(0o022)  # a permissive umask: the directories are 0700 anyway
    try:
        box = Outbox(str(tmp_path / "state" / "evcharge" / "outbox.sqlite3"))
    finally:
        os.umask(old_umask)
    box.close()
    assert mode_of(tmp_path / "state") == 0o700
    assert mode_of(tmp_path / "state" / "evcharge") == 0o700


def test_a_file_in_the_way_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox_module.os, "geteuid", lambda: 0)
    (tmp_path / "state").write_text("")
    with pytest.raises(OutboxError, match="is not a directory"):
        Outbox(str(tmp_path / "state" / "outbox.sqlite3"))


def test_the_monitor_process_with_a_missing_state_dir(fake_engine, fake_central, procs,
                                                      tmp_path):
    """As root: exit 1 with the one line, nothing created. As a user: created 0700, runs."""
    state = tmp_path / "state"
    proc = procs.evcharge("monitor", [
        "monitor", "--cp-id", "CP1", "--engine", fake_engine.address,
        "--central", fake_central.address, "--outbox", str(state / "outbox.sqlite3"),
        "--health-interval", "0.2", "--heartbeat-interval", "0.2"],
        env={"EVCHARGE_SECRET": "s3cret"})
    if os.geteuid() == 0:
        assert proc.popen.wait(15) == 1
        log = proc.log()
        assert "Traceback" not in log
        refusals = [line for line in log.splitlines() if "running as root" in line]
        assert len(refusals) == 1 and refusals[0].startswith("<3>evcharge-monitor: ")
        assert not state.exists()
    else:
        fake_central.wait_for(t.HEARTBEAT_REQUEST, timeout=15)
        assert mode_of(state) == 0o700
        assert proc.terminate() == 0
