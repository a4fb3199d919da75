"""`evcharge sim-hw` as a process: the ready line, the link and the control
socket, clean shutdown, one-shot --send, refusals of bad input, and the pty
surviving the Engine closing, being killed and reopening the port."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from evengine.meter import Meter
from evengine.modbus import ModbusMaster
from evengine.serialport import open_serial
from evharness.procs import bin_path, wait_until
from evharness.sim import start_sim, wait_ready
from evsim.control import ControlClient, ControlError

EVCHARGE = bin_path("evcharge")


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([EVCHARGE, "sim-hw", *args], capture_output=True, text=True,
                          timeout=timeout)


def read_energy(link: Path) -> float:
    port = open_serial(str(link))
    try:
        return Meter(ModbusMaster(port, timeout_ms=1000)).read_energy_kwh()
    finally:
        port.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_ready_then_clean_exit(procs, tmp_path, signum):
    sim = start_sim(procs, tmp_path, "--meter-start", "7")
    assert f"ready link={sim.link} control={sim.control}" in sim.proc.log()
    assert sim.link.is_symlink() and os.readlink(sim.link).startswith("/dev/pts/")
    assert sim.control.is_socket()
    sim.client.close()
    os.killpg(sim.proc.pid, signum)
    assert sim.proc.popen.wait(10) == 0
    assert not sim.link.exists() and not sim.link.is_symlink()
    assert not sim.control.exists()
    assert "Traceback" not in sim.proc.log()


def test_control_path_option(procs, tmp_path):
    control = tmp_path / "elsewhere.sock"
    proc = procs.evcharge("sim-hw", ["sim-hw", "--link", str(tmp_path / "ttyCP"),
                                     "--control", str(control)])
    wait_ready(proc)
    with ControlClient(control) as client:
        assert client.command("status")["ok"] is True


def test_stale_link_and_socket_are_replaced(procs, tmp_path):
    link = tmp_path / "meter"
    link.symlink_to("/dev/pts/does-not-exist")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "meter.ctl"))
    stale.close()  # a socket file nobody listens on: a killed simulator's leftover
    sim = start_sim(procs, tmp_path, "--meter-start", "3.5")
    assert read_energy(sim.link) == 3.5


def test_refuses_to_replace_a_regular_file(tmp_path):
    link = tmp_path / "meter"
    link.write_text("not a link")
    result = run_cli("--link", str(link))
    assert result.returncode == 5  # cliout.EXIT_CONFIG: the --link path
    assert "exists and is not a symlink" in result.stderr
    assert "Traceback" not in result.stderr
    assert link.read_text() == "not a link"


def test_refuses_a_control_socket_in_use(procs, tmp_path):
    sim = start_sim(procs, tmp_path)
    result = run_cli("--link", str(tmp_path / "other"), "--control", str(sim.control))
    assert result.returncode == 5
    assert "in use by another simulator" in result.stderr
    assert not (tmp_path / "other").exists()  # its link was not left behind
    assert sim.status()["ok"] is True


def test_refuses_an_overlong_control_path(tmp_path):
    control = tmp_path / ("x" * 120)
    result = run_cli("--link", str(tmp_path / "meter"), "--control", str(control))
    assert result.returncode == 5
    assert "control socket path is" in result.stderr and "limit is 107" in result.stderr
    assert not (tmp_path / "meter").exists()


@pytest.mark.parametrize("args, message", [
    (["--link", "/tmp/x", "--soc", "150"], "must be a percentage from 0 to 100"),
    (["--link", "/tmp/x", "--battery-kwh", "0"], "must be a number above 0"),
    (["--link", "/tmp/x", "--time-scale", "nan"], "not a finite number"),
    (["--link", "/tmp/x", "--power-kw", "eleven"], "not a number"),
    ([], "--link PATH is required"),
    (["--send", "status"], "--send needs --control"),
])
def test_bad_arguments(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_send_one_shot(procs, tmp_path):
    sim = start_sim(procs, tmp_path)
    ok = run_cli("--control", str(sim.control), "--send", "unplug")
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["plugged"] is False
    via_link = run_cli("--link", str(sim.link), "--send", "status")
    assert json.loads(via_link.stdout)["plugged"] is False
    refused = run_cli("--control", str(sim.control), "--send", "soc 101")
    assert refused.returncode == 4  # the simulator answered and refused (cliout)
    assert refused.stderr.startswith("evcharge sim-hw: error: the simulator refused")
    assert json.loads(refused.stdout) == {"ok": False, "error": "usage: soc X (must be 0..100)"}
    nobody = run_cli("--control", str(tmp_path / "nobody.ctl"), "--send", "status")
    assert nobody.returncode == 3
    assert "cannot reach simulator" in nobody.stderr and "Traceback" not in nobody.stderr


@pytest.mark.parametrize("line, error", [
    ("", "empty command"),
    ("frobnicate", "unknown command 'frobnicate'"),
    ("weld maybe", "usage: weld on|off"),
    ("meter-silent", "usage: meter-silent on|off"),
    ("crc -1", "usage: crc N"),
    ("crc 1.5", "whole number"),
    ("soc", "usage: soc X"),
    ("soc inf", "must be 0..100"),
    ("swipe", "usage: swipe UID"),
    ("swipe caf\u00e9", "printable ASCII"),
    ("plug now", "takes no arguments"),
])
def test_control_errors(procs, tmp_path, line, error):
    sim = start_sim(procs, tmp_path)
    reply = sim.command(line)
    assert reply["ok"] is False
    assert error in reply["error"]
    assert sim.status()["ok"] is True


def test_control_rejects_binary_and_overlong_lines(procs, tmp_path):
    sim = start_sim(procs, tmp_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(5)
        raw.connect(str(sim.control))
        raw.sendall(b"\xff\xfe\n")
        assert json.loads(raw.makefile().readline())["error"] == "command is not UTF-8 text"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(5)
        raw.connect(str(sim.control))
        raw.sendall(b"x" * 5000)
        reply = json.loads(raw.makefile().readline())
        assert "longer than 1024 bytes" in reply["error"]
    assert sim.status()["ok"] is True


def test_help_lists_every_command(procs, tmp_path):
    sim = start_sim(procs, tmp_path)
    commands = " ".join(sim.command("help")["commands"])
    for name in ("plug", "unplug", "meter-silent", "crc", "weld", "dead", "recover", "soc",
                 "swipe", "status"):
        assert name in commands


def test_client_reconnects_after_simulator_restart(procs, tmp_path):
    sim = start_sim(procs, tmp_path, "--meter-start", "1")
    client = ControlClient(sim.control)
    assert client.command("status")["meter_kwh"] == 1
    sim.stop()
    with pytest.raises(ControlError, match="cannot reach simulator"):
        client.command("status")
    start_sim(procs, tmp_path, "--meter-start", "2")
    assert client.command("status")["meter_kwh"] == 2
    client.close()


def test_port_closed_and_reopened(procs, tmp_path):
    sim = start_sim(procs, tmp_path, "--meter-start", "42.25")
    for _ in range(3):
        assert read_energy(sim.link) == 42.25


HOLDER = """
import sys, time
from evengine.meter import Meter
from evengine.modbus import ModbusMaster
from evengine.serialport import open_serial
meter = Meter(ModbusMaster(open_serial(sys.argv[1]), timeout_ms=1000))
while True:
    print("energy", meter.read_energy_kwh())
    time.sleep(0.01)
"""


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_engine_killed_mid_traffic_then_reopens(procs, tmp_path, micropython, runtime):
    """A process polling the meter is SIGKILLed (possibly mid-frame); the
    next process on the same link is served, as after an Engine restart."""
    sim = start_sim(procs, tmp_path, "--meter-start", "77.5")
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    root = Path(__file__).resolve().parents[1]
    if runtime == "micropython":
        argv = [micropython, str(script), str(sim.link)]
        env = {"MICROPYPATH": f"{root / 'shared'}:{root / 'firmware'}"}
    else:
        argv = [sys.executable, str(script), str(sim.link)]
        env = None
    for round_ in range(2):
        holder = procs.start(f"holder-{runtime}", argv, env=env)
        wait_until(lambda h=holder: h.log().count("energy 77.5") >= 5 or not h.alive(),
                   timeout=20, what="holder polling")
        assert holder.alive(), holder.log()
        holder.kill()
        assert read_energy(sim.link) == 77.5, f"round {round_}"
    assert sim.proc.alive()
