"""charge / list / history / stop against a fake Central process over real TCP
and the real broker; the driver runs as its own process."""
from __future__ import annotations

import signal

from driver_testkit import json_lines, tickets_in

from evharness.procs import wait_until


def test_list_shows_the_charge_points(network):
    net = network("--cps", "CP1,CP2", "--busy", "CP9")
    result = net.driver("D1", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "LOCATION", "STATUS", "EUR/kWh", "MAX", "kW"]
    assert any(line.split()[:1] == ["CP9"] and "CHARGING" in line for line in lines)
    assert any(line.startswith("CP1") and "AVAILABLE" in line and "0.30" in line
               and "22.0" in line for line in lines)


def test_charge_until_the_car_is_full(network):
    net = network("--car-kwh", "0.4")
    result = net.driver("D1", "charge", "CP1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CP1: accepted: session" in out
    assert "0.200 kWh" in out  # a live line on the way
    assert tickets_in(out) == 1
    assert "energy        0.400 kWh" in out
    assert "cost          0.12 EUR (0.30 EUR/kWh)" in out
    assert "reason        the car is full" in out


def test_charge_to_a_kwh_target_stops_by_itself(network):
    net = network("--car-kwh", "5")
    result = net.driver("D1", "--json", "charge", "CP2", "--kwh", "0.15")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    stopping = [e for e in events if e.get("event") == "stopping"]
    assert stopping and "target of 0.15 kWh reached" in stopping[0]["text"]
    ticket = [e for e in events if e.get("event") == "ticket"]
    assert len(ticket) == 1
    assert ticket[0]["reason"] == "stopped"
    assert 0.15 <= ticket[0]["energy_kwh"] < 5
    final = events[-1]
    assert final["result"] == "ok" and final["ticket"]["session_id"] == ticket[0]["session_id"]
    progress = [e for e in events if e.get("event") == "progress"]
    assert progress and all(p["cp_id"] == "CP2" for p in progress)


def test_charge_for_some_minutes(network):
    net = network("--car-kwh", "50")
    result = net.driver("D1", "--json", "charge", "CP1", "--minutes", "0.03")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert any("time limit of 0.03 min reached" in e.get("text", "") for e in events)
    assert [e["reason"] for e in events if e.get("event") == "ticket"] == ["stopped"]


def test_unknown_and_busy_charge_points_are_refused(network):
    net = network("--cps", "CP1", "--busy", "CP9")
    unknown = net.driver("D1", "charge", "CPX")
    busy = net.driver("D1", "charge", "CP9")
    assert unknown.returncode == 4 and busy.returncode == 4  # refused (evhost.cliout)
    assert unknown.stderr.strip() == ("evcharge driver: error: CPX: refused: unknown charge "
                                      "point CPX")
    assert busy.stderr.strip() == "evcharge driver: error: CP9: refused: charge point CP9 is busy"
    assert "Traceback" not in unknown.stderr + busy.stderr


def test_sigint_without_a_terminal_stops_without_asking(network):
    net = network("--car-kwh", "50")
    proc = net.start_driver("D1", "charge", "CP1")
    wait_until(lambda: "kWh" in proc.log(), timeout=20, what="live data")
    proc.popen.send_signal(signal.SIGINT)
    assert proc.popen.wait(20) == 0
    log = proc.log()
    assert "you asked to stop: stopping" in log
    assert tickets_in(log) == 1 and "stopped on request" in log


FOLLOWS = "CP3: the session is interrupted: its ticket follows when the charge point recovers"


def test_faulted_session_waits_for_its_ticket(network):
    net = network("--fault", "CP3", "--car-kwh", "0.4", "--fault-ticket-after", "4")
    result = net.driver("D1", "charge", "CP3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CP3: the charge point reported a fault: engine unreachable\n" in out
    # The ticket is late: the driver is told why it waits, before it comes.
    assert out.index("reported a fault") < out.index(FOLLOWS) < out.index("---- ticket")
    assert "reason        the charge point failed" in out


def test_a_fault_whose_ticket_comes_at_once_shows_the_ticket(network):
    net = network("--fault", "CP3", "--car-kwh", "0.4", "--fault-ticket-after", "0")
    result = net.driver("D1", "charge", "CP3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CP3: the charge point reported a fault: engine unreachable\n" in out
    assert "follows" not in out  # no promise of a ticket that is already here
    assert out.index("reported a fault") < out.index("---- ticket")
    assert tickets_in(out) == 1 and "reason        the charge point failed" in out


def test_progress_is_of_the_drivers_own_target(network):
    net = network("--car-kwh", "0.25", "--step-kwh", "0.05")
    result = net.driver("D1", "--json", "charge", "CP1", "--kwh", "0.2")
    assert result.returncode == 0, result.stderr
    samples = [(e["energy_kwh"], e["progress"]) for e in json_lines(result.stdout)
               if e.get("event") == "progress"]
    assert samples[:4] == [(0.05, 25), (0.1, 50), (0.15, 75), (0.2, 100)], samples
    plain = net.driver("D1", "charge", "CP2", "--minutes", "0.02")  # a time target
    lines = [line for line in plain.stdout.splitlines() if " kWh " in line]
    assert lines and all(line.endswith("%") for line in lines), lines
    untargeted = net.driver("D1", "charge", "CP3")
    lines = [line for line in untargeted.stdout.splitlines() if " kWh " in line]
    # No target: energy and power, no percentage (and none of a nominal battery).
    assert lines and not any("%" in line for line in lines), lines
    assert lines[-1].split()[1:6] == ["CP3", "0.250", "kWh", "11.00", "kW"]


def test_authorise_then_plug_shows_one_duration_from_charging_start(network):
    # Central authorises, the car is plugged in 3 s later, charges ~1 s.
    net = network("--wait-for-car", "3", "--car-kwh", "0.25")
    result = net.driver("D1", "--json", "charge", "CP1")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert any(e.get("event") == "waiting_for_vehicle" for e in events)
    elapsed = [e["elapsed_s"] for e in events if e.get("event") == "progress"]
    ticket = next(e for e in events if e.get("event") == "ticket")
    assert elapsed[0] < 1, elapsed  # counted from charging start, not from authorisation
    assert abs(ticket["duration_s"] - elapsed[-1]) < 1.5, (ticket, elapsed)
    assert ticket["duration_s"] < 3


def test_stop_command_from_another_process(network):
    net = network("--car-kwh", "50")
    charging = net.start_driver("D1", "charge", "CP1")
    wait_until(lambda: "kWh" in charging.log(), timeout=20, what="live data")
    stop = net.driver("D1", "stop")
    assert stop.returncode == 0, stop.stderr
    assert "stop requested for session" in stop.stdout
    assert "the ticket is shown by the driver that follows the session" in stop.stdout
    assert charging.popen.wait(20) == 0
    assert tickets_in(charging.log()) == 1 and "stopped on request" in charging.log()


def test_stop_command_follows_to_the_ticket_when_nobody_else_does(network):
    net = network("--car-kwh", "50")
    charging = net.start_driver("D1", "charge", "CP1")
    wait_until(lambda: "kWh" in charging.log(), timeout=20, what="live data")
    charging.kill()  # the charging driver is gone; the session goes on
    stop = net.driver("D1", "stop")
    assert stop.returncode == 0, stop.stderr
    assert tickets_in(stop.stdout) == 1 and "stopped on request" in stop.stdout
    again = net.driver("D1", "stop")
    assert again.returncode == 1
    assert again.stderr.strip() == "evcharge driver: error: you have no running session"


def test_history_lists_my_sessions_with_energy_and_cost(network):
    net = network("--car-kwh", "0.2")
    assert net.driver("D1", "charge", "CP1").returncode == 0
    assert net.driver("D2", "charge", "CP2").returncode == 0
    result = net.driver("D1", "history")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if " CP1 " in line or " CP2 " in line]
    assert len(rows) == 1 and "0.200" in rows[0] and "0.06" in rows[0]
    assert "1 sessions, 0.200 kWh, 0.06 EUR" in result.stdout


def test_a_start_that_fails_at_the_charge_point_is_a_failure(network):
    net = network("--cps", "CP1,CP4", "--fail-start", "CP4")
    result = net.driver("D1", "charge", "CP4")
    assert result.returncode == 1
    assert "CP4: the charge point could not start charging: relay did not close" in result.stdout
    assert tickets_in(result.stdout) == 1 and "energy        0.000 kWh" in result.stdout
    assert result.stderr.strip() == "evcharge driver: error: CP4: the charge point could not start"
