"""Assertions shared by the end-to-end tests: what "nothing lost" means, checked."""
from __future__ import annotations

import json

from evharness import billing
from evharness.drivers import DriverRun
from evharness.network import Network
from evharness.procs import wait_until

ENERGY_TOLERANCE_KWH = billing.ENERGY_TOLERANCE_KWH


def json_lines(text: str) -> list[dict]:
    """The JSON objects of a driver's --json output (other lines ignored)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def wait_charging(run: DriverRun, kwh: float = 0.15, timeout: float = 40.0) -> dict:
    """Wait until the driver saw live data with at least `kwh`; return that event."""
    return run.wait_event(lambda e: e.get("event") == "progress" and e["energy_kwh"] >= kwh,
                          timeout=timeout, what=f"driver progress >= {kwh} kWh")


def session_id_of(run: DriverRun) -> str:
    accepted = run.wait_event(lambda e: e.get("event") == "accepted", timeout=20,
                              what="the driver's accepted event")
    return accepted["session_id"]


def wait_finalised(net: Network, session_id: str, timeout: float = 60.0) -> dict:
    def finalised():
        rows = [s for s in net.db_sessions() if s["session_id"] == session_id]
        return rows[0] if rows and rows[0]["finalised"] else None

    return wait_until(finalised, timeout=timeout, interval=0.2,
                      what=f"session {session_id} finalised in Central's database")


def tickets(events: list[dict], session_id: str) -> list[dict]:
    return [e for e in events if e.get("event") == "ticket" and e["session_id"] == session_id]


def assert_billed_once(net: Network, cp_id: str, meter_before: float,
                       driver_events: list[dict]) -> dict:
    """Exactly one finalised session on the CP, billed = the meter's delta (+-0.001 kWh),
    cost = energy x price (to the cent), and exactly one ticket shown to the driver."""
    rows = [s for s in net.db_sessions() if s["cp_id"] == cp_id]
    assert len(rows) == 1, f"expected one session on {cp_id}, Central has {rows}"
    session = rows[0]
    assert session["finalised"], f"session not finalised: {session}"
    meter_delta = net.meter_kwh(cp_id) - meter_before
    assert abs(session["energy_kwh"] - meter_delta) <= ENERGY_TOLERANCE_KWH, (
        f"billed {session['energy_kwh']} kWh, the meter measured {meter_delta:.4f} kWh")
    assert session["energy_kwh"] > 0
    assert billing.cost_matches(session), (
        f"cost {session['cost']} != {session['energy_kwh']} kWh x {session['price_per_kwh']}")
    shown = tickets(driver_events, session["session_id"])
    assert len(shown) == 1, f"the driver showed {len(shown)} tickets: {shown}"
    assert abs(shown[0]["energy_kwh"] - session["energy_kwh"]) <= ENERGY_TOLERANCE_KWH
    assert abs(shown[0]["cost"] - session["cost"]) <= billing.COST_TOLERANCE
    return session


def unplug_and_check_billed_once(net: Network, cp_id: str, session_id: str, run: DriverRun,
                                 meter_before: float) -> dict:
    """The car leaves: the session ends `unplugged`, the driver's command exits 0, the
    session is billed once with one ticket, and the CP is AVAILABLE again."""
    net.sim(cp_id, "unplug")
    session = wait_finalised(net, session_id, timeout=120)
    assert session["reason"] == "unplugged"
    assert run.wait(120) == 0, run.proc.log()
    billed = assert_billed_once(net, cp_id, meter_before, run.events())
    net.wait_state(cp_id, "AVAILABLE")
    return billed
