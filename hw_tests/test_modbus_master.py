"""The Engine's Modbus RTU master against the virtual hardware, over a real pty
to a real simulator process: all four functions, exception replies, silence,
CRC corruption, line noise, and recovery after each."""
from __future__ import annotations

import pytest

from evengine.meter import Meter
from evengine.modbus import (
    ModbusCRCError,
    ModbusException,
    ModbusMaster,
    ModbusTimeout,
    build_request,
    crc16_modbus,
)
from evengine.serialport import open_serial
from evharness.sim import start_sim

REPLY_TIMEOUT_MS = 1000  # generous: a busy machine must not turn into a failure
SILENCE_TIMEOUT_MS = 300  # where no reply is the expected outcome


@pytest.fixture
def sim(procs, tmp_path):
    return start_sim(procs, tmp_path, "--meter-start", "1234.5")


@pytest.fixture
def port(sim):
    port = open_serial(str(sim.link))
    yield port
    port.close()


@pytest.fixture
def master(port):
    return ModbusMaster(port, timeout_ms=REPLY_TIMEOUT_MS)


def test_all_four_functions(master, sim):
    assert master.read_input_registers(1, 0x0000, 2) == [0x4366, 0x0000]  # 230.0 V
    assert master.read_discrete_inputs(2, 0, 1) == [True]  # vehicle plugged
    assert master.read_coils(2, 0, 1) == [False]  # relay open at start
    master.write_coil(2, 0, True)
    assert master.read_coils(2, 0, 1) == [True]
    assert sim.status()["relay_closed"] is True
    master.write_coil(2, 0, False)
    assert master.read_coils(2, 0, 8) == [False] * 8
    assert sim.status()["relay_closed"] is False
    assert (master.requests, master.timeouts, master.crc_errors) == (7, 0, 0)


def test_exception_replies(master):
    with pytest.raises(ModbusException) as no_such_function:
        master.read_input_registers(2, 0, 2)  # the relay module has no input registers
    assert no_such_function.value.code == 1
    with pytest.raises(ModbusException) as beyond_map:
        master.read_input_registers(1, 0x0300, 2)
    assert beyond_map.value.code == 2
    with pytest.raises(ModbusException) as beyond_channels:
        master.read_coils(2, 0, 9)  # an 8-channel module
    assert beyond_channels.value.code == 2
    assert master.exceptions == 3
    assert master.read_coils(2, 0, 1) == [False]  # the bus is fine afterwards


def test_unknown_unit_times_out_then_bus_recovers(port):
    master = ModbusMaster(port, timeout_ms=SILENCE_TIMEOUT_MS)
    with pytest.raises(ModbusTimeout, match="unit 9 function 4: no reply"):
        master.read_input_registers(9, 0, 2)
    assert master.timeouts == 1
    assert Meter(master).read_energy_kwh() == 1234.5
    assert master.timeouts == 1


def test_corrupted_crc_then_recovery(master, sim):
    sim.command("crc 2")
    for _ in range(2):
        with pytest.raises(ModbusCRCError):
            master.read_input_registers(1, 0x0048, 2)
    assert Meter(master).read_energy_kwh() == 1234.5
    assert master.crc_errors == 2
    assert sim.status()["crc_errors_pending"] == 0


def test_only_the_meter_is_corrupted(master, sim):
    sim.command("crc 5")
    assert master.read_coils(2, 0, 1) == [False]
    assert master.read_discrete_inputs(2, 0, 1) == [True]
    assert sim.status()["crc_errors_pending"] == 5


def test_silent_meter_then_back(port, sim):
    master = ModbusMaster(port, timeout_ms=SILENCE_TIMEOUT_MS)
    sim.command("meter-silent on")
    with pytest.raises(ModbusTimeout):
        Meter(master).read()
    assert master.read_discrete_inputs(2, 0, 1) == [True]  # the relay module still answers
    sim.command("meter-silent off")
    assert Meter(master).read().energy_kwh == 1234.5


def test_line_noise_before_a_request_is_skipped(port, master, sim):
    # Garbage the simulator reads just before a real request (as after a
    # glitch on RS-485): it must resynchronise and answer the request.
    port.write(b"\x55\xaa\x01\x04\x00\xff\x13")
    assert master.read_input_registers(1, 0x0000, 2) == [0x4366, 0x0000]
    port.write(b"\x01\x04\x00")  # an unfinished frame, then silence
    assert Meter(master).read_energy_kwh() == 1234.5
    assert sim.proc.alive()


def _raw_exchange(port, request: bytes) -> bytes:
    port.reset_input()
    port.write(request)
    return port.read(5, REPLY_TIMEOUT_MS)


def test_unsupported_functions_get_illegal_function(port):
    fc03 = build_request(bytearray(8), 1, 3, 0, 2)  # read holding registers
    assert _raw_exchange(port, bytes(fc03)) == _exception_reply(1, 3, 1)
    # FC 0x2B (device identification) has no fixed length; a CRC-terminated
    # frame for our unit still gets its exception reply.
    fc2b = bytes.fromhex("012b0e0100") + _crc(bytes.fromhex("012b0e0100"))
    assert _raw_exchange(port, fc2b) == _exception_reply(1, 0x2B, 1)


def test_bad_coil_value_gets_illegal_value(port):
    request = bytes(build_request(bytearray(8), 2, 5, 0, 0x1234))
    assert _raw_exchange(port, request) == _exception_reply(2, 5, 3)


def _crc(body: bytes) -> bytes:
    crc = crc16_modbus(body)
    return bytes((crc & 0xFF, crc >> 8))


def _exception_reply(unit: int, function: int, code: int) -> bytes:
    body = bytes((unit, function | 0x80, code))
    return body + _crc(body)
