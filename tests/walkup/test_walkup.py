"""Charging started at the charge point itself (issue 10), with every tier a real
process: virtual hardware with its card reader, Engine, Monitor, Central, the
test broker and the Driver app. Short timers (the harness's); what the CP shows
is read from its Engine's log, what was billed from Central's database.
"""
from __future__ import annotations

import time

from evharness.procs import wait_until

PLUG_IN_AFTER_S = 5.0


def _walkup_session(net, driver_id: str) -> dict:
    def opened():
        rows = [s for s in net.db_sessions() if s["driver_id"] == driver_id
                and s["origin"] == "local"]
        return rows[-1] if rows else None

    return wait_until(opened, timeout=20, interval=0.2, what=f"walk-up session of {driver_id}")


def test_a_known_card_starts_a_session_the_driver_follows_to_its_ticket(make_network):
    net = make_network()
    watch = net.start_driver("D42", "watch", "--wait", "60")
    watch.wait_event(lambda e: e.get("event") == "notice" and "waiting for a session" in e["text"],
                     timeout=30, what="the driver app waiting for a session")
    meter_before = net.meter_kwh("CP1")
    net.swipe("CP1", "CARD42")
    net.wait_shown("CP1", "card CARD42: authorised for D42, session ")
    session_id = _walkup_session(net, "D42")["session_id"]
    followed = watch.wait_event(lambda e: e.get("event") == "watching", timeout=20,
                                what="the driver app following the walk-up session")
    assert followed["session_id"] == session_id and followed["cp_id"] == "CP1"
    live = watch.wait_event(lambda e: e.get("event") == "progress" and e["energy_kwh"] > 0.05,
                            timeout=30, what="live data at the driver")
    assert live["session_id"] == session_id
    assert net.cp_state("CP1") == "CHARGING"
    net.sim("CP1", "unplug")  # the driver leaves: unplugging ends the session
    assert watch.wait(40) == 0, watch.proc.log()
    (ticket,) = [e for e in watch.events() if e.get("event") == "ticket"]
    assert ticket["session_id"] == session_id and ticket["reason"] == "unplugged"
    row = net.wait_finalised(session_id)
    assert row["origin"] == "local" and row["driver_id"] == "D42"
    assert abs(row["energy_kwh"] - (net.meter_kwh("CP1") - meter_before)) <= 0.0015
    assert abs(ticket["energy_kwh"] - row["energy_kwh"]) <= 0.0015 and row["energy_kwh"] > 0
    assert len([s for s in net.db_sessions() if s["driver_id"] == "D42"]) == 1


def test_refusals_are_shown_at_the_charge_point(make_network):
    net = make_network(menu=True)
    net.swipe("CP1", "NOSUCHCARD")
    net.wait_shown("CP1", "card NOSUCHCARD: refused: unknown card NOSUCHCARD")
    net.type_keys("CP1", "c DX\n")  # a driver id typed on the menu, not registered
    net.wait_shown("CP1", "driver DX: refused: unknown driver DX")
    app = net.driver("DX", "charge", "CP1")  # the same from the app (--require-known-drivers)
    assert app.returncode == 4 and "refused driver DX" in app.stderr  # no credential
    watch = net.driver("D42", "watch", "--wait", "1")  # refused: no session was started
    assert watch.returncode == 1 and "no session of D42 started within 1 s" in watch.stderr
    assert net.driver("D42", "watch", "--wait", "0").returncode == 2

    charging = net.start_driver("D1", "charge", "CP1")  # busy: D1 charges from the app
    charging.wait_event(lambda e: e.get("event") == "progress", timeout=30, what="D1 charging")
    net.swipe("CP1", "CARD42")
    net.wait_shown("CP1", "card CARD42: refused: charge point busy (session ")
    assert net.driver("D1", "stop", "--no-wait").returncode == 0
    assert charging.wait(40) == 0
    net.wait_state("CP1", "AVAILABLE")

    stop = net.admin("stop", "CP1", "--reason", "cable damaged")  # out of service
    assert stop.returncode == 0, stop.stderr
    net.wait_state("CP1", "STOPPED")
    net.type_keys("CP1", "r\n")
    net.wait_shown("CP1", "card UID, then Enter:")
    net.type_keys("CP1", "CARD42\n")  # a card typed in goes through the simulated reader
    net.wait_shown("CP1", "card CARD42: refused: CP1 is out of service (stopped by the "
                          "operator: cable damaged)")
    assert [s for s in net.db_sessions() if s["driver_id"] in ("D42", "DX")] == []
    assert "Traceback" not in net.shown("CP1")


def test_app_request_then_plug_in_after_5_s_counts_energy_from_the_plug_in(make_network):
    net = make_network(runtime="micropython", plugged=False)
    run = net.start_driver("D1", "charge", "CP1", "--kwh", "0.2")
    told = run.wait_event(lambda e: e.get("event") == "waiting_for_vehicle", timeout=30,
                          what="the driver told to plug in")
    assert told["text"] == "authorised, waiting for vehicle (plug in within 60 s)"
    net.wait_state("CP1", "CHARGING")
    (row,) = net.cp_rows()
    assert row["session"]["waiting_for_vehicle"] is True
    assert row["session"]["charging_rate"] == 0
    listing = net.admin("list")
    assert listing.returncode == 0 and "waiting_for_vehicle" in listing.stdout
    time.sleep(PLUG_IN_AFTER_S)
    assert not [e for e in run.events() if e.get("event") == "progress"]
    meter_at_plug_in = net.meter_kwh("CP1")
    plugged_at = int(time.time())
    net.sim("CP1", "plug")
    assert run.wait(60) == 0, run.proc.log()
    (ticket,) = [e for e in run.events() if e.get("event") == "ticket"]
    session = net.wait_finalised(ticket["session_id"])
    assert session["meter_start_kwh"] == round(meter_at_plug_in, 3)
    assert session["energy_kwh"] >= 0.2
    assert abs(session["energy_kwh"] - (session["meter_stop_kwh"] - meter_at_plug_in)) <= 0.0015
    # Central's session opened at the authorisation; the Engine's billing period (the
    # ticket's duration, ending at the completion's timestamp) began at the plug-in.
    assert session["started_at"] <= plugged_at - PLUG_IN_AFTER_S + 1
    assert session["ended_at"] - ticket["duration_s"] >= plugged_at
    assert not net.cp_rows()[0]["session"]


def test_no_plug_in_within_the_timeout_ends_no_vehicle_with_zero_energy(make_network):
    net = make_network(plugged=False, connection_timeout=3)
    run = net.start_driver("D1", "charge", "CP1")
    assert run.wait(40) == 0, run.proc.log()
    (ticket,) = [e for e in run.events() if e.get("event") == "ticket"]
    assert ticket["reason"] == "no_vehicle" and ticket["energy_kwh"] == 0
    assert ticket["cost"] == 0
    session = net.wait_finalised(ticket["session_id"])
    assert session["reason"] == "no_vehicle" and session["energy_kwh"] == 0
    assert session["meter_start_kwh"] is None
    net.wait_state("CP1", "AVAILABLE")
    assert net.sim("CP1", "status")["coil_on"] is False
    net.sim("CP1", "plug")  # too late: nothing starts by itself
    time.sleep(1.5)
    assert net.cp_state("CP1") == "AVAILABLE" and net.sim("CP1", "status")["coil_on"] is False


def test_without_monitor_or_central_a_walk_up_request_is_refused(make_network):
    net = make_network()
    gone = net.shown("CP1").count(" disconnected")
    net.kill_monitor("CP1")
    net.wait_state("CP1", "DISCONNECTED")
    wait_until(lambda: net.shown("CP1").count(" disconnected") > gone, timeout=20,
               what="the Engine seeing its Monitor go")
    net.swipe("CP1", "CARD42")
    net.wait_shown("CP1", "card CARD42: refused: monitor unreachable")

    net.start_monitor("CP1")
    net.wait_state("CP1", "AVAILABLE")
    monitor = net.proc("monitor-CP1")
    retries = monitor.log().count("retrying in")
    net.kill_central()
    wait_until(lambda: monitor.log().count("retrying in") > retries, timeout=20,
               what="the Monitor losing Central")
    net.swipe("CP1", "NOSUCHCARD")  # a listed card would start offline (test_offline.py)
    net.wait_shown("CP1", "card NOSUCHCARD: refused: cannot reach Central")
    assert net.sim("CP1", "status")["coil_on"] is False
    assert [s for s in net.db_sessions() if s["driver_id"] == "D42"] == []
