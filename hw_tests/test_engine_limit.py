"""The site's limit enforced by the Engine against the virtual hardware, on
both runtimes: set_charging_limit -> pilot duty cycle (the relay module's
holding register 0) -> the simulated car draws no more than the pilot offers;
the hold runs out to the safe limit; the limit survives a restart."""
from __future__ import annotations

import pytest

import evwire
from evengine.limit import DUTY_OFF, duty_for
from evharness.engine import RUNTIMES, start_engine
from evharness.procs import wait_until
from evharness.sim import start_sim
from evwire import types as t

TICK = "0.3"
SAFE_KW = 4.2  # 6.09 A on 3 x 230 V


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


def set_limit(probe, kw: float, hold_s: float) -> dict:
    msg = probe.send(evwire.make(t.SET_CHARGING_LIMIT, cp_id="CP1", limit_kw=kw, hold_s=hold_s))
    return probe.reply_to(msg)


def rate_settles(probe, low: float, high: float, timeout: float = 10.0) -> dict:
    """The first charging_data whose charging_rate is within [low, high]."""
    return probe.wait_for(lambda m: m["type"] == t.CHARGING_DATA
                          and low <= m["charging_rate"] <= high, timeout=timeout)


def test_pilot_follows_the_limit_and_the_car_follows_the_pilot(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--safe-limit-kw", str(SAFE_KW))
    probe = engine.probe()
    wait_until(lambda: sim.status()["pilot_duty"] == DUTY_OFF, timeout=10, what="pilot off")
    assert probe.start("S1")["status"] == "success"
    assert sim.status()["pilot_duty"] == duty_for(11000 / 690)  # the session's 11 kW
    rate_settles(probe, 10.9, 11.05)

    answer = set_limit(probe, 7.36, hold_s=60)
    assert answer["type"] == t.COMMAND_RESPONSE and answer["status"] == t.SUCCESS, answer
    assert answer["command"] == t.SET_CHARGING_LIMIT
    assert sim.status()["pilot_duty"] == duty_for(7360 / 690)
    data = rate_settles(probe, 7.0, 7.37)
    assert data["limit_kw"] == pytest.approx(7.36, abs=0.02)
    assert probe.health()["limit_kw"] == 7.36

    # Below 6 A: no current offered, the car pauses, the session stays open.
    set_limit(probe, 2.0, hold_s=60)
    assert sim.status()["pilot_duty"] == DUTY_OFF
    rate_settles(probe, 0.0, 0.0)
    probe.collect(1.5)
    health = probe.health()
    assert health["is_charging"] is True and health["session_id"] == "S1"
    assert sim.status()["relay_closed"] is True

    # Not renewed: after hold_s the safe limit.
    set_limit(probe, 11.0, hold_s=2)
    rate_settles(probe, 10.9, 11.05)
    data = rate_settles(probe, SAFE_KW - 0.1, SAFE_KW, timeout=10)
    assert data["limit_kw"] == pytest.approx(SAFE_KW, abs=0.02)
    assert probe.health()["limit_kw"] == SAFE_KW
    probe.stop("S1")
    probe.wait_type(t.CHARGE_COMPLETION)
    wait_until(lambda: sim.status()["pilot_duty"] == DUTY_OFF, timeout=5, what="pilot off")


def test_the_limit_survives_a_restart(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    state = tmp_path / "state"
    engine = start_engine(procs, state, sim.link, runtime, "--tick", TICK)
    probe = engine.probe()
    assert set_limit(probe, 5.5, hold_s=600)["status"] == t.SUCCESS
    engine.proc.kill()  # SIGKILL: only what was persisted is left
    probe.close()
    engine = start_engine(procs, state, sim.link, runtime, "--tick", TICK, port=engine.port)
    probe = engine.probe()
    assert probe.health()["limit_kw"] == 5.5  # no Monitor renewed it: the store did
    assert probe.start("S2")["status"] == "success"
    data = rate_settles(probe, 5.3, 5.5)
    assert data["limit_kw"] == pytest.approx(5.5, abs=0.02)
