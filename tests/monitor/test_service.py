"""The Monitor as a service: live panel, clean SIGTERM, bad settings at start-up."""
from __future__ import annotations

import signal

from evharness.procs import wait_until
from evwire import types as t


def test_panel_shows_links_status_session_and_outbox(fake_engine, fake_central,
                                                      start_monitor):
    proc = start_monitor(fake_engine, fake_central, "--panel")
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    wait_until(lambda: "CP status AVAILABLE" in proc.log(), timeout=10, what="panel")
    log = proc.log()
    assert f"Engine    {fake_engine.address}" in log
    assert f"Central   {fake_central.address}" in log and "registered" in log
    assert "Outbox    0 rows" in log
    for n in range(1, 4):
        fake_engine.send(fake_engine.charging_data("S-panel", n))
    wait_until(lambda: "Session   S-panel  driver D1" in proc.log(), timeout=10,
               what="session on the panel")
    wait_until(lambda: "0.009 kWh" in proc.log() and "Outbox    3 rows" in proc.log(),
               timeout=10, what="live data and outbox depth")
    assert "CP status CHARGING" in proc.log()


def test_sigterm_closes_the_links_and_exits_0(fake_engine, fake_central, start_monitor):
    proc = start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    assert proc.terminate() == 0
    wait_until(lambda: fake_central.conn is None and fake_engine.conn is None, timeout=5,
               what="both links closed")
    log = proc.log()
    assert "stopping: SIGTERM" in log and "stopped; 0 records kept" in log


def test_sigint_is_a_clean_stop_too(fake_engine, fake_central, start_monitor):
    proc = start_monitor(fake_engine, fake_central)
    proc.popen.send_signal(signal.SIGINT)
    assert proc.popen.wait(10) == 0
    assert "stopping: SIGINT" in proc.log()


def test_unusable_outbox_path_is_one_line_and_a_failure_exit(fake_engine, fake_central, procs,
                                                              tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    proc = procs.evcharge("monitor", [
        "monitor", "--cp-id", "CP1", "--engine", fake_engine.address,
        "--central", fake_central.address, "--outbox", str(blocker / "outbox.sqlite3")],
        env={"EVCHARGE_SECRET": "s"})
    assert proc.popen.wait(15) == 1
    lines = proc.log().strip().splitlines()
    assert all(line.startswith("<") for line in lines)  # journald lines only
    assert any("cannot open outbox" in line for line in lines)
    assert "Traceback" not in proc.log()


def test_config_file_and_environment_are_used(fake_engine, fake_central, procs, tmp_path):
    config = tmp_path / "monitor.toml"
    config.write_text(f'cp_id = "CP1"\nsecret = "wrong"\ncentral = "{fake_central.address}"\n'
                      f'engine = "{fake_engine.address}"\nlocation = "From the file"\n'
                      f'outbox = "{tmp_path / "o.sqlite3"}"\nheartbeat_interval = 0.2\n')
    config.chmod(0o600)  # it holds a secret inline
    procs.evcharge("monitor", ["monitor", "--config", str(config)],
                   env={"EVCHARGE_SECRET": "s3cret", "EVCHARGE_MAX_KW": "7.4"})
    register = fake_central.wait_for(t.REGISTER_REQUEST, timeout=15)
    assert register["location"] == "From the file"
    assert register["max_charging_rate_kw"] == 7.4
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
