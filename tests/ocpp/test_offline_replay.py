"""Transactions the charger started on its own (a card at the charger), and a
StopTransaction replayed after the charger was offline: billed exactly once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call
from ocpp_testkit import PRICE

from evharness.procs import wait_until


def test_local_start_offline_stop_replayed_is_billed_once(ocpp_network):
    net = ocpp_network(cps=("WB1",), drivers={"D1": "CARD1"})
    rig = net.charger("WB1", tick=3600, meter_wh=5000).connect()  # no automatic meter values
    net.wait_state("WB1", "AVAILABLE")
    assert rig.call(call.Authorize(id_tag="CARD1")).id_tag_info["status"] == "Accepted"
    assert rig.call(call.Authorize(id_tag="NOBODY")).id_tag_info["status"] == "Invalid"
    rig.run(rig.start_transaction("CARD1"))  # a walk-up card: no remote start
    tx_id = rig.tx_id
    assert tx_id is not None
    wait_until(lambda: [s for s in net.sessions_of("D1") if s["status"] == "active"],
               timeout=15, what="the local transaction is a live session")

    rig.disconnect()  # offline: the stop is queued in the charger
    net.wait_state("WB1", "DISCONNECTED")
    rig.meter_wh += 2345
    rig.run(rig.stop_transaction("Local"))
    assert len(rig.queue) == 1 and not rig.stop_results

    rig.connect(boot=True)  # back: the queued StopTransaction goes first after boot
    assert len(rig.stop_results) == 1 and rig.stop_results[0] is not None
    stop = call.StopTransaction(meter_stop=rig.meter_wh, timestamp="2026-01-01T00:00:00Z",
                                transaction_id=tx_id, reason="Local")
    rig.call(stop)  # a replay (the charger did not see our answer): answered, not billed
    rig.call(stop)
    [session] = net.sessions_of("D1")
    assert session["status"] == "completed"
    assert session["energy_consumed_kwh"] == pytest.approx(2.345, abs=1e-6)
    assert session["total_cost"] == pytest.approx(round(2.345 * PRICE, 2), abs=1e-9)
    billed = [line for line in net.central.log().splitlines() if "billed:" in line]
    assert len(billed) == 1, billed


def test_unknown_id_tag_gets_invalid_and_no_session(ocpp_network):
    net = ocpp_network(cps=("WB1",), drivers={"D1": "CARD1"})
    rig = net.charger("WB1", tick=3600).connect()
    net.wait_state("WB1", "AVAILABLE")
    reply = rig.call(call.StartTransaction(connector_id=1, id_tag="STRANGER", meter_start=0,
                                           timestamp="2026-01-01T00:00:00Z"))
    assert reply.id_tag_info["status"] == "Invalid"
    stop = rig.call(call.StopTransaction(meter_stop=9000, timestamp="2026-01-01T01:00:00Z",
                                         transaction_id=reply.transaction_id))
    assert stop is not None  # answered; nothing to bill
    assert net.admin("sessions") == []



def test_a_transaction_made_entirely_offline_is_billed_for_its_real_duration(ocpp_network):
    """Started and stopped while Central was unreachable, sent on reconnect: the
    session counts from the charger's start time, so 5 kWh in an hour at a 22 kW
    charger is plausible and billed (from Central's clock it took a second)."""
    net = ocpp_network(cps=("WB1",), drivers={"D1": "CARD1"}, extra=("--time-scale", "1"))
    rig = net.charger("WB1", tick=3600).connect()
    net.wait_state("WB1", "AVAILABLE")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    start = rig.call(call.StartTransaction(connector_id=1, id_tag="CARD1", meter_start=10_000,
                                           timestamp=an_hour_ago.isoformat()))
    assert start.id_tag_info["status"] == "Accepted"
    rig.call(call.StopTransaction(meter_stop=15_000, timestamp=datetime.now(UTC).isoformat(),
                                  transaction_id=start.transaction_id, reason="Local"))
    [session] = net.sessions_of("D1")
    assert session["status"] == "completed", session
    assert session["energy_consumed_kwh"] == pytest.approx(5.0)
    assert session["total_cost"] == pytest.approx(round(5.0 * PRICE, 2))
