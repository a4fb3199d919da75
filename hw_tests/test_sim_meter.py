"""The virtual meter through the Engine's own drivers (serialport + modbus +
meter + relay) over a real pty: values agree with the simulator's status,
and energy integrates only while the car is plugged in and the contactor
closed."""
from __future__ import annotations

import time

import pytest

from evengine.meter import Meter
from evengine.modbus import ModbusMaster
from evengine.relay import ModbusRelay, ModbusVehicleInput
from evengine.serialport import open_serial
from evharness.procs import wait_until
from evharness.sim import start_sim

FLOAT32_SLACK_KWH = 0.001  # float32 has ~7 significant digits: 0.0001 kWh at 1234 kWh
STILL_WINDOW_S = 0.5  # several model ticks (10 Hz)


@pytest.fixture
def bus():
    opened = []

    def open_bus(sim):
        port = open_serial(str(sim.link))
        opened.append(port)
        return ModbusMaster(port, timeout_ms=1000)

    yield open_bus
    for port in opened:
        port.close()


def test_meter_values_match_status(procs, tmp_path, bus):
    sim = start_sim(procs, tmp_path, "--meter-start", "1234.5", "--time-scale", "60")
    master = bus(sim)
    ModbusRelay(master).set(True)
    wait_until(lambda: sim.status()["meter_kwh"] > 1234.5, timeout=10, what="energy flowing")
    before = sim.status()
    reading = Meter(master).read()
    after = sim.status()
    assert reading.voltage == 230.0
    assert reading.power_kw == pytest.approx(11.0)
    assert reading.current == pytest.approx(11000 / 230, rel=1e-6)
    low, high = before["meter_kwh"], after["meter_kwh"]
    assert low - FLOAT32_SLACK_KWH <= reading.energy_kwh <= high + FLOAT32_SLACK_KWH


def test_meter_start_and_total_energy_register(procs, tmp_path, bus):
    sim = start_sim(procs, tmp_path, "--meter-start", "98765.25")
    master = bus(sim)
    assert Meter(master).read_energy_kwh() == 98765.25
    assert Meter(master, energy_register=0x0156).read_energy_kwh() == 98765.25
    reading = Meter(master, power_register=0x0034).read()
    assert (reading.power_kw, reading.current) == (0.0, 0.0)  # contactor open


def _still(meter: Meter) -> bool:
    first = meter.read_energy_kwh()
    time.sleep(STILL_WINDOW_S)
    return meter.read_energy_kwh() == first


def test_energy_integrates_only_when_plugged_and_closed(procs, tmp_path, bus):
    sim = start_sim(procs, tmp_path, "--unplugged", "--time-scale", "60", "--meter-start", "10")
    master = bus(sim)
    meter, relay = Meter(master), ModbusRelay(master)
    plugged = ModbusVehicleInput(master)

    assert not plugged.is_connected()
    relay.set(True)  # closed, but no car
    assert _still(meter)
    assert meter.read().power_kw == 0.0

    sim.command("plug")
    assert plugged.is_connected()
    start = meter.read_energy_kwh()
    wait_until(lambda: meter.read_energy_kwh() > start, timeout=10, what="energy rising")
    assert meter.read().power_kw == pytest.approx(11.0)

    relay.set(False)  # plugged in, contactor open
    assert _still(meter)

    relay.set(True)
    sim.command("unplug")  # contactor closed, car gone
    assert _still(meter)
    assert sim.status()["power_kw"] == 0.0


def test_power_limit_sets_current(procs, tmp_path, bus):
    sim = start_sim(procs, tmp_path, "--power-kw", "7.36")
    master = bus(sim)
    ModbusRelay(master).set(True)
    reading = Meter(master).read()
    assert reading.power_kw == pytest.approx(7.36, rel=1e-6)
    assert reading.current == pytest.approx(32.0, rel=1e-6)
    sim.command("power-limit 3.68")
    assert Meter(master).read().current == pytest.approx(16.0, rel=1e-6)
