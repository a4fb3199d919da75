"""The Modbus layer on both interpreters.

- The MicroPython unix port reads the virtual meter over the pty through
  serialport + modbus + meter + relay (the device-file serial path).
- tests/micropython/test_modbus_*.py (exact frames against a scripted port)
  run under micropython with its own runner, and under CPython here.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evharness.procs import wait_until
from evharness.sim import start_sim

ROOT = Path(__file__).resolve().parents[1]
MP_TESTS = ROOT / "tests" / "micropython"
MODBUS_TEST_MODULES = sorted(p.stem for p in MP_TESTS.glob("test_modbus_*.py"))

SCRIPT = """
import sys
from evengine.meter import Meter
from evengine.modbus import ModbusMaster, ModbusTimeout
from evengine.relay import ModbusCardReader, ModbusRelay, ModbusVehicleInput
from evengine.serialport import open_serial

port = open_serial(sys.argv[1])
master = ModbusMaster(port, timeout_ms=1000)
relay = ModbusRelay(master)
relay.set(True)
reader = ModbusCardReader(master)
reader.poll()
print("SWIPE")
line = sys.stdin.readline()
reading = Meter(master).read()
uid = reader.poll()
silent = ModbusMaster(port, timeout_ms=200)
try:
    silent.read_input_registers(9, 0, 2)
    timed_out = False
except ModbusTimeout:
    timed_out = True
relay.set(False)
print("RESULT", reading.voltage, reading.current, reading.power_kw, reading.energy_kwh,
      uid, ModbusVehicleInput(master).is_connected(), relay.is_closed(), timed_out,
      master.requests)
port.close()
"""


def mp_env() -> dict:
    return dict(os.environ, MICROPYPATH=f"{ROOT / 'shared'}:{ROOT / 'firmware'}")


def test_unix_port_reads_the_virtual_meter(procs, tmp_path, micropython):
    sim = start_sim(procs, tmp_path, "--meter-start", "2500.75", "--power-kw", "4.6",
                    "--time-scale", "60")
    script = tmp_path / "read_meter.py"
    script.write_text(SCRIPT)
    child = subprocess.Popen([micropython, str(script), str(sim.link)], env=mp_env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout.readline().strip() == "SWIPE"  # relay closed by now
        sim.command("swipe CARD42")
        wait_until(lambda: sim.status()["meter_kwh"] > 2500.75, timeout=10, what="charging")
        before = sim.status()
        out, _ = child.communicate("go\n", timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, out
    fields = out.split("RESULT", 1)[1].split()
    voltage, current, power_kw, energy = (float(x) for x in fields[:4])
    assert voltage == 230.0
    assert power_kw == pytest.approx(4.6, rel=1e-6)
    assert current == pytest.approx(20.0, rel=1e-6)
    after = sim.status()
    assert before["meter_kwh"] - 0.001 <= energy <= after["meter_kwh"] + 0.001
    assert energy > 2500.75  # the relay the unix port closed let the car charge
    assert fields[4:8] == ["CARD42", "True", "False", "True"]
    assert after["relay_closed"] is False


def test_modbus_unit_tests_under_micropython(micropython):
    assert MODBUS_TEST_MODULES, "tests/micropython/test_modbus_*.py missing"
    env = dict(os.environ, MICROPYPATH="shared:firmware:tests/micropython")
    result = subprocess.run(
        [micropython, "-X", "heapsize=2M", "tests/micropython/run.py", *MODBUS_TEST_MODULES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout
    passed = int(result.stdout.split("micropython: ")[1].split()[0])
    assert passed == len(_cpython_cases())


def _cpython_cases() -> list[tuple[str, str]]:
    if str(MP_TESTS) not in sys.path:
        sys.path.insert(0, str(MP_TESTS))
    cases = []
    for name in MODBUS_TEST_MODULES:
        module = importlib.import_module(name)
        cases += [(name, attr) for attr in sorted(dir(module)) if attr.startswith("test_")]
    return cases


@pytest.mark.parametrize("module_name, test_name", _cpython_cases())
def test_modbus_unit_tests_under_cpython(module_name, test_name):
    getattr(importlib.import_module(module_name), test_name)()

