"""A commercial OCPP 1.6J charger in the network: boot and status, a driver's
charge from `evcharge driver charge`, live meter values, remote stop, the
ticket, billing of the meter delta exactly once, operator stop/resume."""
from __future__ import annotations

import base64
import json
import os
import socket

import pytest
from ocpp_testkit import PRICE
from sim_charger import basic

from evharness.procs import wait_until


def ticket_events(run) -> list[dict]:
    return [e for e in run.events() if e.get("event") == "ticket"]


def test_boot_status_and_protocol(ocpp_network):
    net = ocpp_network(cps=("WB1",))
    assert net.cp("WB1")["status"] == "DISCONNECTED"
    rig = net.charger("WB1").connect()
    assert rig.interval == 60  # BootNotification Accepted with Central's interval
    row = net.wait_state("WB1", "AVAILABLE")
    assert row["protocol"] == "ocpp"
    rig.run(rig.status("Faulted", error_code="GroundFailure", vendor_error_code="E42"))
    row = net.wait_state("WB1", "FAULTED")
    assert "GroundFailure" in row["fault_type"] and "E42" in row["fault_type"]
    rig.run(rig.status("Unavailable"))
    net.wait_state("WB1", "STOPPED")
    rig.run(rig.status("Available"))
    net.wait_state("WB1", "AVAILABLE")
    rig.disconnect()  # the socket closes: DISCONNECTED like our own CPs
    net.wait_state("WB1", "DISCONNECTED")


def test_remote_charge_meter_values_stop_and_ticket(ocpp_network):
    net = ocpp_network(cps=("WB1",), drivers={"D1": "CARD1"})
    rig = net.charger("WB1", tick=0.2, wh_per_tick=150, power_w=7400).connect()
    net.wait_state("WB1", "AVAILABLE")
    run = net.start_driver("D1", "charge", "WB1", "--kwh", "0.6")
    progress = run.wait_event(lambda e: e.get("event") == "progress"
                              and e.get("energy_kwh", 0) > 0, timeout=30,
                              what="live meter values at the driver")
    assert progress["energy_kwh"] <= 0.6 + 0.15 * 2
    assert run.wait(60) == 0, run.proc.log()
    tickets = ticket_events(run)
    assert len(tickets) == 1, run.events()
    assert rig.tx_id is None and len(rig.stop_results) == 1  # RemoteStop -> StopTransaction
    delta_kwh = (rig.meter_wh - rig.tx_meter_start) / 1000
    assert delta_kwh >= 0.6
    assert tickets[0]["energy_kwh"] == pytest.approx(delta_kwh, abs=1e-6)
    assert tickets[0]["cost"] == pytest.approx(round(delta_kwh * PRICE, 2), abs=1e-9)
    [session] = net.sessions_of("D1")
    assert session["status"] == "completed"
    assert session["energy_consumed_kwh"] == pytest.approx(delta_kwh, abs=1e-6)
    assert session["total_cost"] == pytest.approx(round(delta_kwh * PRICE, 2), abs=1e-9)
    net.wait_state("WB1", "AVAILABLE")


def test_operator_stop_and_resume_change_availability(ocpp_network):
    net = ocpp_network(cps=("WB1",))
    rig = net.charger("WB1").connect()
    net.wait_state("WB1", "AVAILABLE")
    net.admin("stop", "WB1")
    wait_until(lambda: rig.availability_changes == ["Inoperative"], timeout=15,
               what="ChangeAvailability Inoperative")
    net.wait_state("WB1", "STOPPED")
    refused = net.driver("D1", "charge", "WB1")
    assert refused.returncode == 4 and "WB1: refused:" in refused.stderr
    net.admin("resume", "WB1")
    wait_until(lambda: rig.availability_changes == ["Inoperative", "Operative"], timeout=15,
               what="ChangeAvailability Operative")
    net.wait_state("WB1", "AVAILABLE")


def test_a_silent_charger_is_disconnected_with_its_socket_open(ocpp_network):
    """A charger that upgrades, boots, then neither sends nor answers pings (its
    firmware hung): DISCONNECTED after --heartbeat-timeout, like our own CPs."""
    net = ocpp_network(cps=("WB1",))
    host, port = net.ocpp_url.split("//")[1].split("/")[0].split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"GET /ocpp/WB1 HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n"
                      f"Authorization: {basic('WB1', 'secret-WB1')}\r\n\r\n").encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 101")
        sock.sendall(_masked_text(json.dumps([2, "b1", "BootNotification", {
            "chargePointVendor": "Hung", "chargePointModel": "H1"}])))
        net.wait_state("WB1", "AVAILABLE", timeout=10)
        net.wait_state("WB1", "DISCONNECTED", timeout=15)  # pings unanswered, socket open


def _masked_text(text: str) -> bytes:
    """One client WebSocket text frame (RFC 6455 5.2: clients mask their frames)."""
    data, mask = text.encode(), os.urandom(4)
    assert len(data) < 126
    return bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4]
                                                          for i, b in enumerate(data))
