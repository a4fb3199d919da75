"""The Engine's Modbus code against pymodbus: an implementation nobody here
wrote answers Meter.read() with float32 registers it encoded itself, and
the relay module's coils and discrete input. A shared CRC or byte-order
mistake between our master and our own simulator would pass every other
test; it cannot pass this one."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from evengine.meter import Meter
from evengine.modbus import ModbusException, ModbusMaster
from evengine.relay import ModbusRelay, ModbusVehicleInput
from evengine.serialport import open_serial
from evharness.procs import ProcessGroup
from evharness.sim import start_pymodbus_bus

ROOT = Path(__file__).resolve().parents[1]
# Exactly representable in float32, so equality is the right check.
VOLTAGE, CURRENT, POWER_W, ENERGY_KWH = 231.5, 9.75, 2250.0, 4321.125


@pytest.fixture(scope="module")
def pymodbus_link(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pymodbus")
    group = ProcessGroup(directory / "logs")
    try:
        yield start_pymodbus_bus(
            group, directory, "--voltage", str(VOLTAGE), "--current", str(CURRENT),
            "--power-w", str(POWER_W), "--energy-kwh", str(ENERGY_KWH),
        )
    finally:
        group.close()


@pytest.fixture
def master(pymodbus_link):
    port = open_serial(str(pymodbus_link))
    yield ModbusMaster(port, timeout_ms=2000)
    port.close()


def test_meter_read_matches_the_registers_pymodbus_serves(master):
    reading = Meter(master).read()
    assert (reading.voltage, reading.current, reading.power_kw, reading.energy_kwh) == (
        VOLTAGE, CURRENT, POWER_W / 1000, ENERGY_KWH)
    assert (master.requests, master.crc_errors, master.timeouts) == (2, 0, 0)


def test_sdm630_total_registers(master):
    reading = Meter(master, energy_register=0x0156, power_register=0x0034).read()
    assert (reading.power_kw, reading.energy_kwh) == (POWER_W / 1000, ENERGY_KWH)


def test_relay_and_vehicle_input(master):
    relay = ModbusRelay(master)
    relay.set(True)
    assert relay.is_closed()
    relay.set(False)
    assert not relay.is_closed()
    assert ModbusVehicleInput(master).is_connected() is True


def test_exception_replies_then_recovery(master):
    with pytest.raises(ModbusException) as beyond_map:
        master.read_input_registers(1, 0x0300, 2)
    assert beyond_map.value.code == 2
    with pytest.raises(ModbusException) as coils_beyond_map:
        master.read_coils(2, 100, 1)
    assert coils_beyond_map.value.code == 2
    assert master.exceptions == 2
    assert Meter(master).read_energy_kwh() == ENERGY_KWH


def test_micropython_meter_against_pymodbus(pymodbus_link, micropython):
    script = (
        "import sys\n"
        "from evengine.meter import Meter\n"
        "from evengine.modbus import ModbusMaster\n"
        "from evengine.serialport import open_serial\n"
        "r = Meter(ModbusMaster(open_serial(sys.argv[1]), timeout_ms=2000)).read()\n"
        "print(r.voltage, r.current, r.power_kw, r.energy_kwh)\n"
    )
    env = dict(os.environ, MICROPYPATH=f"{ROOT / 'shared'}:{ROOT / 'firmware'}")
    result = subprocess.run([micropython, "-c", script, str(pymodbus_link)], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [float(x) for x in result.stdout.split()] == [VOLTAGE, CURRENT, POWER_W / 1000,
                                                         ENERGY_KWH]
