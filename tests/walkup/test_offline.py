"""Charging while no Central answers: the offline authorisation list, with every tier a
real process (broker, Central, virtual hardware with its card reader, Engine, Monitor).

Central pushes the list when the Monitor registers; with Central killed, a listed card
starts at the CP, an unlisted one is refused there; the Monitor is SIGKILLed
mid-session and restarted (the session's records wait in its outbox, marked offline);
Central comes back and bills the session once, at its own price, ticket delivered once.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

from evharness import commands
from evharness.procs import wait_until
from evkafka import names
from evkafka.client import AssignedConsumer
from evwire import loads
from evwire import types as t

CENTRAL_PRICE = 0.45  # set at Central while it is down: the CP charged at the list's 0.30


def _session_shown(net, cp_id: str, who: str) -> str:
    pattern = re.compile(rf"{re.escape(who)}: authorised for D42, session ([0-9a-f-]{{36}})")
    found = wait_until(lambda: pattern.search(net.shown(cp_id)), timeout=20, interval=0.1,
                       what=f"{cp_id} showing {who} authorised offline")
    return found.group(1)


def _driver_events(bootstrap: str, driver_id: str, seconds: float = 5.0) -> list[dict]:
    """Every driver-events record of driver_id so far, from the topic's start."""
    consumer = AssignedConsumer(bootstrap, names.namespace() + "offline-test-tap",
                                [names.driver_events()])
    found: list[dict] = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for rec in consumer.consume(100, timeout=0.2):
                if rec.error() is None and rec.key() == driver_id.encode():
                    found.append(loads(rec.value()))
    finally:
        consumer.close()
    return found


def _set_price(net, cp_id: str, price: float) -> None:
    argv = commands.on_host(net.spec.hub, ["central", "update-cp", cp_id, "--db",
                                           str(net.spec.db_path), "--price-per-kwh", str(price)])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **net.env})
    assert done.returncode == 0, done.stderr


def test_offline_walk_up_is_billed_once_at_centrals_price_after_it_returns(make_network):
    net = make_network()
    monitor = net.proc("monitor-CP1")
    # D42 (card CARD42) was added after the first push: Central pushes the list again.
    wait_until(lambda: " 1 card(s)" in monitor.log(), timeout=30, interval=0.2,
               what="the Monitor holding the offline list with D42's card")
    # Only the change went (D42 added to the list the Monitor held), not the whole list.
    assert re.search(r"version \w+ taken \(a change from \w+\): \d+ driver\(s\), 1 card",
                     monitor.log()), monitor.log()
    retries = monitor.log().count("retrying in")
    net.kill_central()
    wait_until(lambda: monitor.log().count("retrying in") > retries, timeout=20,
               what="the Monitor losing Central")

    net.swipe("CP1", "NOSUCHCARD")  # not on the list: refused at the CP, nothing starts
    net.wait_shown("CP1", "card NOSUCHCARD: refused: cannot reach Central; card NOSUCHCARD "
                          "is not on the offline authorisation list")
    meter_before = net.meter_kwh("CP1")
    net.swipe("CP1", "CARD42")
    session_id = _session_shown(net, "CP1", "card CARD42")
    wait_until(lambda: net.meter_kwh("CP1") - meter_before > 0.05, timeout=30, interval=0.2,
               what="energy flowing offline")
    assert net.sim("CP1", "status")["coil_on"] is True

    net.kill_monitor("CP1")  # SIGKILL mid-session: its outbox and offline state stay
    wait_until(lambda: not net.sim("CP1", "status")["coil_on"], timeout=30, interval=0.2,
               what="the Engine ending the session past its Monitor grace")
    meter_after = net.meter_kwh("CP1")
    net.start_monitor("CP1")
    monitor = net.proc("monitor-CP1")
    wait_until(lambda: f"session {session_id} completed" in monitor.log(), timeout=30,
               interval=0.2, what="the completion handed to the restarted Monitor")
    assert [s for s in net.db_sessions() if s["session_id"] == session_id] == []

    _set_price(net, "CP1", CENTRAL_PRICE)
    net.start_central()
    row = net.wait_finalised(session_id, timeout=60)
    assert row["origin"] == "offline" and row["driver_id"] == "D42" and row["cp_id"] == "CP1"
    assert row["request_id"] == f"offline:{session_id}"
    assert row["price_per_kwh"] == CENTRAL_PRICE
    assert abs(row["energy_kwh"] - (meter_after - meter_before)) <= 0.0015
    assert row["cost"] == round(row["energy_kwh"] * CENTRAL_PRICE, 2)
    assert row["reason"] == "monitor_lost"
    central = net.proc("central")
    wait_until(lambda: f"ticket of session {session_id} delivered" in central.log(),
               timeout=30, interval=0.2, what="the driver's ticket delivered")
    time.sleep(2.0)  # any duplicate (replayed records) would be handled by now
    assert len([s for s in net.db_sessions() if s["driver_id"] == "D42"]) == 1
    assert net.session_row(session_id)["ticket_sent"]
    assert central.log().count(f"ticket of session {session_id} delivered") == 1
    assert central.log().count(f"session {session_id} billed") == 1
    events = _driver_events(net.kafka, "D42")
    tickets = [e for e in events if e["type"] == t.CHARGE_COMPLETION
               and e["session_id"] == session_id]
    assert len(tickets) == 1 and tickets[0]["total_cost"] == row["cost"]
    assert tickets[0]["price_per_kwh"] == CENTRAL_PRICE


def test_a_hung_central_is_not_waited_for_the_offline_list_decides_in_5_s(make_network):
    net = make_network()
    monitor = net.proc("monitor-CP1")
    wait_until(lambda: " 1 card(s)" in monitor.log(), timeout=30, interval=0.2,
               what="the Monitor holding the offline list with D42's card")
    # Only the change went (D42 added to the list the Monitor held), not the whole list.
    assert re.search(r"version \w+ taken \(a change from \w+\): \d+ driver\(s\), 1 card",
                     monitor.log()), monitor.log()
    central = net.proc("central")
    os.kill(central.pid, signal.SIGSTOP)  # connected, silent: a hung Central
    try:
        asked = time.monotonic()
        net.swipe("CP1", "CARD42")
        session_id = _session_shown(net, "CP1", "card CARD42")
        waited = time.monotonic() - asked
        assert 4.0 <= waited <= 9.0, waited  # the Monitor's 5 s, before the Engine's 10 s
        assert "no answer from Central within 5 s: deciding offline" in monitor.log()
    finally:
        os.kill(central.pid, signal.SIGCONT)
    wait_until(lambda: net.sim("CP1", "status")["coil_on"], timeout=20, interval=0.2,
               what="the relay closed for the offline session")
    time.sleep(1.0)
    net.sim("CP1", "unplug")
    row = net.wait_finalised(session_id, timeout=60)
    assert row["origin"] == "offline" and row["energy_kwh"] > 0
    # Central read the late request too: whatever it opened for it ended unbilled
    others = [s for s in net.db_sessions() if s["driver_id"] == "D42"
              and s["session_id"] != session_id]
    assert all(s["energy_kwh"] == 0 and s["cost"] == 0 for s in others), others
