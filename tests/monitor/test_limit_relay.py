"""The site's limit through real processes: Central (a stand-in) -> the real
Monitor -> the real Engine (MicroPython) -> the virtual EVSE's pilot -> the
simulated car. Renewed while Central answers; once it stops answering the
Engine falls back to its safe limit after hold_s; renewals resume with it."""
from __future__ import annotations

import time

from evengine.limit import duty_for
from evharness.engine import start_engine
from evharness.procs import wait_until
from evharness.sim import start_sim
from evwire import types as t

HOLD_S = 3.0
SAFE_KW = 4.2


def test_limit_forwarded_renewed_and_dropped_with_central(procs, tmp_path, fake_central,
                                                          start_monitor):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, "micropython", "--tick", "0.3",
                          "--safe-limit-kw", str(SAFE_KW))
    start_monitor(f"127.0.0.1:{engine.port}", fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST, where=lambda m: m["status"] == t.CP_AVAILABLE)
    start = fake_central.command(t.START_CHARGING_COMMAND, session_id="S1", driver_id="D1",
                                 price_per_kwh=0.3, max_charging_rate_kw=11.0)
    fake_central.wait_for(t.COMMAND_RESPONSE,
                          where=lambda m: m["message_id"] == start["message_id"])
    wait_until(lambda: sim.status()["power_kw"] > 10.9, timeout=10, what="11 kW")

    limit = fake_central.command(t.SET_CHARGING_LIMIT, limit_kw=7.36, hold_s=HOLD_S,
                                 site_id="SITE1")
    answer = fake_central.wait_for(t.COMMAND_RESPONSE,
                                   where=lambda m: m["message_id"] == limit["message_id"])
    assert answer["status"] == t.SUCCESS and answer["command"] == t.SET_CHARGING_LIMIT
    wait_until(lambda: sim.status()["pilot_duty"] == duty_for(7360 / 690), timeout=5,
               what="the pilot at 7.36 kW")
    # Renewed: well past hold_s the car still gets its share, not the safe limit.
    deadline = time.monotonic() + 3 * HOLD_S
    while time.monotonic() < deadline:
        assert 7.0 < sim.status()["power_kw"] <= 7.37
        time.sleep(0.2)

    fake_central.answer_heartbeats = False  # Central hangs: no renewal may follow
    lost = time.monotonic()
    wait_until(lambda: abs(sim.status()["power_kw"] - SAFE_KW) < 0.1, timeout=HOLD_S + 10,
               what="the safe limit")
    assert time.monotonic() - lost >= HOLD_S - 3 * 0.2 - 1.0  # not before the hold ran out

    fake_central.answer_heartbeats = True  # Central back: the renewals resume
    wait_until(lambda: 7.0 < sim.status()["power_kw"] <= 7.37, timeout=15,
               what="the share again")
