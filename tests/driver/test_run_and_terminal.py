"""`run FILE` (services one after another) and the interactive terminal:
the live line and Ctrl-C's "stop charging?" question on a real pty."""
from __future__ import annotations

import pytest
from driver_testkit import PtyProcess, json_lines, tickets_in

SERVICES = """# a morning round: ten services, one refused as unknown, one as busy
CP1
CP2
CPX   # no such charge point

CP9   # busy all day
CP3
CP1
CP2
CP3
CP1
CP2
"""


def test_run_ten_services_reports_failures_and_goes_on(network, tmp_path):
    net = network("--cps", "CP1,CP2,CP3", "--busy", "CP9")
    services = tmp_path / "services.txt"
    services.write_text(SERVICES)
    result = net.driver("D1", "run", str(services), "--kwh", "0.1", "--pause", "0.2",
                        timeout=120)
    assert result.returncode == 1, result.stderr  # some services failed
    out = result.stdout
    for number, cp in enumerate(["CP1", "CP2", "CPX", "CP9", "CP3", "CP1", "CP2", "CP3",
                                 "CP1", "CP2"], 1):
        assert f"== service {number}/10: {cp}" in out
    assert "CPX: refused: unknown charge point CPX" in out
    assert "CP9: refused: charge point CP9 is busy" in out
    assert tickets_in(out) == 8
    summary = out[out.index("summary:"):].splitlines()
    rows = [line.split() for line in summary[3:13]]
    assert [r[1] for r in rows] == ["CP1", "CP2", "CPX", "CP9", "CP3", "CP1", "CP2", "CP3",
                                    "CP1", "CP2"]
    assert [r[2] for r in rows].count("ok") == 8
    assert rows[2][2] == "failed" and rows[3][2] == "failed"
    assert "8 of 10 services done" in out


def test_run_in_json_mode(network, tmp_path):
    net = network("--car-kwh", "0.1")
    services = tmp_path / "services.txt"
    services.write_text("CP1\nCP2\n")
    result = net.driver("D1", "--json", "run", str(services), "--pause", "0")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert [e["cp_id"] for e in events if e.get("event") == "service"] == ["CP1", "CP2"]
    summary = [e for e in events if e.get("event") == "summary"][0]
    assert [s["ok"] for s in summary["services"]] == [True, True]
    assert events[-1] == {"result": "ok", "services": 2, "services_done": 2}


@pytest.fixture
def terminal():
    opened: list[PtyProcess] = []

    def start(argv: list[str]) -> PtyProcess:
        proc = PtyProcess(argv)
        opened.append(proc)
        return proc

    yield start
    for proc in opened:
        proc.close()


def test_ctrl_c_asks_and_no_keeps_charging_then_yes_stops(network, terminal):
    net = network("--car-kwh", "50")
    term = terminal(net.driver_argv("D1", "charge", "CP1"))
    term.wait_for(" kWh ")
    assert "\r" in term.read_available()  # one updating line on a terminal
    term.type(b"\x03")
    term.wait_for("stop charging? [y/N]")
    term.type(b"n\n")
    term.wait_for("charging goes on")
    term.type(b"\x03")
    term.wait_for("stop charging? [y/N]", times=2)
    term.type(b"y\n")
    term.wait_for("---- ticket")
    assert term.popen.wait(20) == 0
    out = term.read_available()
    assert "you asked to stop: stopping" in out
    assert "stopped on request" in out
    print(out)


def test_second_ctrl_c_at_the_question_means_yes(network, terminal):
    net = network("--car-kwh", "50")
    term = terminal(net.driver_argv("D1", "charge", "CP2"))
    term.wait_for(" kWh ")
    term.type(b"\x03")
    term.wait_for("stop charging? [y/N]")
    term.type(b"\x03")
    term.wait_for("---- ticket")
    assert term.popen.wait(20) == 0
    assert "stopped on request" in term.read_available()


def test_a_pipe_gets_plain_lines_exactly(network):
    """Not a terminal (stdout is a pipe): no rich drawing, no escape sequences."""
    net = network("--cps", "CP1,CP2", "--busy", "CP9", "--car-kwh", "0.1")
    listed = net.driver("D1", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == (
        "ID   LOCATION  STATUS     EUR/kWh  MAX kW\n"
        "---  --------  ---------  -------  ------\n"
        "CP1  Street 1  AVAILABLE     0.30    22.0\n"
        "CP2  Street 2  AVAILABLE     0.30    22.0\n"
        "CP9  Street 3  CHARGING      0.30    22.0\n")
    charged = net.driver("D1", "charge", "CP1", "--kwh", "0.1")
    assert charged.returncode == 0, charged.stderr
    samples = [line.split(" ", 1)[1] for line in charged.stdout.splitlines()
               if " kWh " in line]  # after the clock time
    assert samples[:2] == [
        "CP1    0.050 kWh   11.00 kW      0.01 EUR  00:00:00  50%",
        "CP1    0.100 kWh   11.00 kW      0.03 EUR  00:00:00  100%"], samples
    assert "\x1b" not in listed.stdout + charged.stdout and "\r" not in charged.stdout


def test_a_terminal_gets_the_live_view_and_tables(network, terminal):
    net = network("--car-kwh", "5", "--step-kwh", "0.05")
    term = terminal(net.driver_argv("D1", "charge", "CP1", "--kwh", "0.3"))
    out = term.wait_for("---- ticket")
    assert term.popen.wait(20) == 0
    assert "100%" in out and " 50%" in out  # the bar's percentage of the 0.3 kWh target
    assert "\u2501" in out  # rich's bar, drawn in place (cursor movements)
    assert "\x1b[" in out and "0.300 kWh" in out
    table = terminal(net.driver_argv("D1", "list"))
    shown = table.wait_for("CP3")
    assert table.popen.wait(20) == 0
    assert "LOCATION" in shown and "\u2500" in shown  # rich's table rule
