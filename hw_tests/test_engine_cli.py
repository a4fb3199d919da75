"""`evcharge engine` as an operator runs it: bad options, the --sim shortcut,
SIGTERM, and the key menu on a terminal (a real pty as stdin)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tty

import pytest

from evengine.probe import MonitorProbe
from evharness.engine import RUNTIMES, wait_ready
from evharness.procs import ROOT, bin_path, free_port, micropython_binary, wait_until


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


def _engine(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path("evcharge"), "engine", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args,needle", [
    ([], "--cp-id"),
    (["--cp-id", "CP1", "--meter", "/dev/null"], "'listen'"),
    (["--cp-id", "CP1", "--listen", "localhost", "--meter", "/dev/null"], "HOST:PORT"),
    (["--cp-id", "CP1", "--listen", "h:99999", "--meter", "/dev/null"], "1-65535"),
    (["--cp-id", "CP1", "--listen", "h:1"], "--meter"),
    (["--cp-id", "CP1", "--listen", "h:1", "--sim", "--meter", "/dev/null"], "leave out --meter"),
    (["--cp-id", "CP1", "--listen", "h:1", "--meter", "/x", "--sim-unplugged"], "needs --sim"),
    (["--cp-id", "CP1", "--listen", "h:1", "--meter", "/x", "--tick", "0"], "tick_s"),
    (["--cp-id", "CP1", "--listen", "h:1", "--meter", "/x", "--tick", "fast"], "--tick"),
    (["--cp-id", "CP1", "--listen", "h:1", "--meter", "/x", "--relay", "gpio"], "relay_pin"),
    (["--cp-id", "CP1", "--listen", "h:1", "--meter", "/x", "--heapsize", "lots"], "64k"),
    (["--cp-id", "CP1", "--listen", "h:1", "--meter", "/x", "--runtime", "pypy"], "runtime"),
    (["--cp-id", "CP1", "--listen", "h:1", "--meter", "/x", "--connection-timeout", "0"],
     "connection_timeout_s"),
    (["--cp-id", "CP1", "--listen", "h:1", "--meter", "/x", "--card-reader-unit", "300"],
     "card_reader_unit"),
])
def test_bad_options_give_one_line_and_exit_2(args, needle, tmp_path):
    done = _engine(*args, "--state-dir", str(tmp_path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evcharge engine: "), done.stderr
    assert needle in lines[0]


def test_missing_meter_device_is_one_line_exit_1(tmp_path, runtime):
    done = _engine("--cp-id", "CP1", "--listen", f"127.0.0.1:{free_port()}", "--meter",
                   str(tmp_path / "no-such-tty"), "--state-dir", str(tmp_path),
                   "--runtime", runtime)
    assert done.returncode == 1
    assert "cannot open the hardware" in done.stderr and "no-such-tty" in done.stderr
    assert "Traceback" not in done.stderr


def test_firmware_main_refuses_a_bad_config_file(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"cp_id": "CP1", "meter": "/dev/null", "listen": "h:1", "tick_s": -1}')
    env = dict(os.environ, MICROPYPATH=f"{ROOT / 'firmware'}:{ROOT / 'shared'}")
    for interpreter in (micropython_binary(), sys.executable):
        done = subprocess.run([interpreter, str(ROOT / "firmware" / "main.py"), str(config)],
                              capture_output=True, text=True, timeout=30, env=env,
                              cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "'tick_s' must be positive" in done.stderr and "Traceback" not in done.stderr


def test_sim_shortcut_and_sigterm_stop_both(procs, tmp_path, runtime):
    port = free_port()
    state = tmp_path / "state"
    proc = procs.evcharge("engine", [
        "engine", "--cp-id", "CP1", "--listen", f"127.0.0.1:{port}", "--sim",
        "--sim-time-scale", "30", "--state-dir", str(state), "--runtime", runtime,
        "--tick", "0.3"])
    wait_ready(proc)
    probe = MonitorProbe("127.0.0.1", port)
    assert probe.health()["vehicle_connected"] is True
    assert probe.start("S1")["status"] == "success"
    assert probe.wait_type("charging_data")["energy_consumed_kwh"] >= 0
    assert (state / "sim.link").is_symlink()
    os.kill(proc.pid, signal.SIGTERM)  # the CLI only, as systemd would
    assert proc.popen.wait(15) == 0
    assert "stopped" in proc.log()
    wait_until(lambda: not (state / "sim.link").exists(), timeout=10, what="simulator gone")
    assert "session S1 ending: fault" in proc.log()  # shut down mid-session: relay opened


def test_sim_unplugged(procs, tmp_path):
    port = free_port()
    proc = procs.evcharge("engine", [
        "engine", "--cp-id", "CP1", "--listen", f"127.0.0.1:{port}", "--sim", "--sim-unplugged",
        "--state-dir", str(tmp_path / "state"), "--tick", "0.3"])
    wait_ready(proc)
    probe = MonitorProbe("127.0.0.1", port)
    assert probe.health()["vehicle_connected"] is False
    started = probe.start("S1")  # authorised: it waits for the car
    assert started["status"] == "success" and started["waiting_for_vehicle"] is True


def test_key_menu_on_a_terminal(procs, tmp_path, runtime):
    master, slave = os.openpty()
    tty.setraw(master)
    port = free_port()
    try:
        proc = procs.start("engine", [
            bin_path("evcharge"), "engine", "--cp-id", "CP1", "--listen", f"127.0.0.1:{port}",
            "--sim", "--sim-unplugged", "--state-dir", str(tmp_path / "state"),
            "--runtime", runtime, "--tick", "0.3"], stdin=slave)
        wait_ready(proc)
        assert "keys (then Enter)" in proc.log()
        probe = MonitorProbe("127.0.0.1", port)

        def health_is(field, value):
            wait_until(lambda: probe.health()[field] == value, timeout=10,
                       what=f"{field} == {value!r}")

        os.write(master, b"p\n")
        health_is("vehicle_connected", True)
        # The status line a key prints shows the key's effect, not the tick before it.
        wait_until(lambda: "CP1 OK | idle | vehicle plugged in" in proc.log(), timeout=10)
        os.write(master, b"k\n")
        health_is("fault_type", "simulated_fault")
        wait_until(lambda: "CP1 KO (simulated_fault)" in proc.log(), timeout=10)
        assert probe.start("S1")["status"] == "failure"
        os.write(master, b"o\n")
        health_is("engine_status", "OK")
        assert probe.start("S1")["status"] == "success"
        os.write(master, b"u\n")
        done = probe.wait_type("charge_completion", timeout=10)
        assert done["reason"] == "unplugged"
        wait_until(lambda: "CP1 OK | idle | vehicle unplugged" in proc.log(), timeout=10)
        os.write(master, b"q\n")
        assert proc.popen.wait(15) == 0
    finally:
        os.close(master)
        os.close(slave)
