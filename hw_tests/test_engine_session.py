"""Whole sessions against the virtual hardware over a pty, on both runtimes:
a test plays the Monitor over real TCP (evengine.probe)."""
from __future__ import annotations

import pytest

from evharness.engine import RUNTIMES, start_engine
from evharness.procs import wait_until
from evharness.sim import start_sim

TICK = "0.3"


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


def test_full_session(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK)
    probe = engine.probe()
    health = probe.health()
    assert health["engine_status"] == "OK" and health["vehicle_connected"] is True
    assert health["is_charging"] is False and health["fault_type"] is None
    meter_before = sim.status()["meter_kwh"]

    started = probe.start("S1", price_per_kwh=0.40)
    assert started["status"] == "success" and started["session_id"] == "S1"
    samples = [m for m in probe.collect(2.5) if m["type"] == "charging_data"]
    assert len(samples) >= 3
    for sample in samples:
        assert sample["session_id"] == "S1" and sample["cp_id"] == "CP1"
        assert sample["driver_id"] == "D1"
        delta = sample["meter_kwh"] - meter_before
        assert sample["energy_consumed_kwh"] == pytest.approx(delta, abs=0.0011)
        assert sample["total_cost"] == round(sample["energy_consumed_kwh"] * 0.40, 2)
        assert sample["charging_rate"] == pytest.approx(11.0, abs=0.05)
    energies = [s["energy_consumed_kwh"] for s in samples]
    assert energies == sorted(energies) and energies[-1] > 0

    stopped = probe.stop("S1")
    assert stopped["status"] == "success"
    done = probe.wait_type("charge_completion")
    status = sim.status()
    assert status["relay_closed"] is False
    assert done["reason"] == "stopped" and done["session_id"] == "S1"
    assert done["meter_start_kwh"] == pytest.approx(meter_before, abs=0.001)
    assert done["meter_stop_kwh"] == pytest.approx(status["meter_kwh"], abs=0.001)
    assert done["energy_consumed_kwh"] == pytest.approx(status["meter_kwh"] - meter_before,
                                                        abs=0.0011)
    assert done["energy_consumed_kwh"] >= energies[-1]
    assert done["total_cost"] == round(done["energy_consumed_kwh"] * 0.40, 2)

    later = probe.collect(1.0)
    assert [m for m in later if m["type"] in ("charge_completion", "charging_data")] == []
    probe.ack(done)
    probe.close()
    fresh = engine.probe()
    fresh.health()
    assert [m for m in fresh.collect(1.0) if m["type"] == "charge_completion"] == []


def test_unplug_ends_the_session(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK)
    probe = engine.probe()
    assert probe.start("S1")["status"] == "success"
    probe.wait_type("charging_data")
    sim.command("unplug")
    done = probe.wait_type("charge_completion", timeout=10)
    status = sim.status()
    assert done["reason"] == "unplugged"
    assert done["meter_stop_kwh"] == pytest.approx(status["meter_kwh"], abs=0.001)
    assert status["coil_on"] is False
    assert probe.health()["vehicle_connected"] is False


def test_car_full_ends_the_session(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "120", "--battery-kwh", "1", "--soc", "95")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--ev-full-s", "1")
    probe = engine.probe()
    assert probe.start("S1")["status"] == "success"
    done = probe.wait_type("charge_completion", timeout=20)
    status = sim.status()
    assert done["reason"] == "ev_full"
    assert status["soc"] == 100.0 and status["coil_on"] is False
    assert done["meter_stop_kwh"] == pytest.approx(status["meter_kwh"], abs=0.001)
    assert done["energy_consumed_kwh"] == pytest.approx(0.05, abs=0.002)  # 5 % of 1 kWh
    wait_until(lambda: not probe.health()["is_charging"], timeout=5)
