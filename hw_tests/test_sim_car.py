"""The simulated car as the Engine's meter driver sees it: full power below
80 % state of charge, a linear taper above, nothing once full."""
from __future__ import annotations

import time

import pytest

from evengine.meter import Meter
from evengine.modbus import ModbusMaster
from evengine.relay import ModbusRelay
from evengine.serialport import open_serial
from evharness.procs import wait_until
from evharness.sim import start_sim


@pytest.fixture
def open_meter():
    opened = []

    def connect(sim) -> Meter:
        port = open_serial(str(sim.link))
        opened.append(port)
        master = ModbusMaster(port, timeout_ms=1000)
        ModbusRelay(master).set(True)
        return Meter(master)

    yield connect
    for port in opened:
        port.close()


def test_full_power_below_80_percent(procs, tmp_path, open_meter):
    sim = start_sim(procs, tmp_path, "--soc", "50", "--power-kw", "11", "--car-max-kw", "7.4")
    assert open_meter(sim).read().power_kw == pytest.approx(7.4)  # the car's limit wins


def test_taper_above_80_percent(procs, tmp_path, open_meter):
    # A 1000 kWh battery at real time: the state of charge (and so the
    # tapered power) barely moves while the test reads it.
    sim = start_sim(procs, tmp_path, "--soc", "90", "--power-kw", "11", "--battery-kwh", "1000")
    meter = open_meter(sim)
    assert meter.read().power_kw == pytest.approx(11 * 0.5, rel=1e-3)  # halfway 80 -> 100
    sim.command("soc 95")
    assert meter.read().power_kw == pytest.approx(11 * 0.25, rel=1e-3)
    sim.command("soc 80")
    assert meter.read().power_kw == pytest.approx(11.0, rel=1e-3)


def test_charging_stops_when_full(procs, tmp_path, open_meter):
    # 1 kWh battery at 99 %, an hour per second: full within a second or two.
    sim = start_sim(procs, tmp_path, "--battery-kwh", "1", "--soc", "99",
                    "--time-scale", "3600", "--meter-start", "500")
    meter = open_meter(sim)
    wait_until(lambda: sim.status()["soc"] == 100.0, timeout=15, what="battery full")
    status = sim.status()
    assert status["power_kw"] == 0.0
    reading = meter.read()
    assert reading.power_kw == 0.0
    # it took exactly the room that was left: 1 % of 1 kWh
    assert reading.energy_kwh == pytest.approx(500.01, abs=1e-4)
    time.sleep(0.5)
    assert meter.read_energy_kwh() == reading.energy_kwh


def test_full_car_draws_nothing_after_replug(procs, tmp_path, open_meter):
    sim = start_sim(procs, tmp_path, "--soc", "100")
    meter = open_meter(sim)
    sim.command("unplug")
    sim.command("plug")
    assert meter.read().power_kw == 0.0
    sim.command("soc 40")
    assert meter.read().power_kw == pytest.approx(11.0)
