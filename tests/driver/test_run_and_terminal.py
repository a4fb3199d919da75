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
