"""Serial faults the simulator cannot produce, injected with pytest-mock at
the pyserial layer under a real port to the real simulator: a read that
times out, a CRC error on the third read, a truncated reply, an adapter that
vanishes. Each is a ModbusError (never a crash), and the next transaction
after the fault succeeds."""
from __future__ import annotations

import pytest
import serial

from evengine.meter import Meter
from evengine.modbus import ModbusCRCError, ModbusError, ModbusMaster, ModbusTimeout
from evengine.relay import ModbusRelay
from evengine.serialport import open_serial
from evharness.sim import start_sim

METER_START = 1234.5


@pytest.fixture
def sim(procs, tmp_path):
    return start_sim(procs, tmp_path, "--meter-start", str(METER_START))


@pytest.fixture
def master(sim):
    port = open_serial(str(sim.link))
    yield ModbusMaster(port, timeout_ms=1000)
    port.close()


def test_read_that_times_out(master, mocker):
    silent = mocker.patch.object(serial.Serial, "read", return_value=b"")
    with pytest.raises(ModbusTimeout, match="no reply"):
        Meter(master).read()
    assert silent.called
    assert master.timeouts == 1
    mocker.stopall()
    assert Meter(master).read_energy_kwh() == METER_START


def test_crc_error_on_the_third_read(master, mocker):
    real_read = serial.Serial.read
    transactions = {"tails": 0}

    def corrupt_third_reply(self, size=1):
        data = real_read(self, size)
        if size > 3:  # the part of a reply after its 3-byte head
            transactions["tails"] += 1
            if transactions["tails"] == 3 and data:
                data = data[:-1] + bytes((data[-1] ^ 0x5A,))
        return data

    mocker.patch.object(serial.Serial, "read", corrupt_third_reply)
    meter = Meter(master)
    assert meter.read_energy_kwh() == METER_START
    assert meter.read_energy_kwh() == METER_START
    with pytest.raises(ModbusCRCError, match="CRC mismatch"):
        meter.read_energy_kwh()
    assert meter.read_energy_kwh() == METER_START
    assert (master.requests, master.crc_errors) == (4, 1)


def test_truncated_reply_is_a_timeout(master, mocker):
    real_read = serial.Serial.read

    def lose_the_tail(self, size=1):
        data = real_read(self, size)
        return data[: size // 2] if size > 3 else data

    mocker.patch.object(serial.Serial, "read", lose_the_tail)
    with pytest.raises(ModbusTimeout, match="incomplete reply"):
        Meter(master).read_energy_kwh()
    mocker.stopall()
    assert Meter(master).read_energy_kwh() == METER_START


def test_adapter_unplugged_during_write(master, mocker):
    mocker.patch.object(
        serial.Serial, "write",
        side_effect=serial.SerialException("write failed: [Errno 5] Input/output error"),
    )
    with pytest.raises(ModbusError, match="serial port error: write failed"):
        ModbusRelay(master).set(False)
    mocker.stopall()
    ModbusRelay(master).set(False)


def test_adapter_unplugged_during_read(master, mocker):
    mocker.patch.object(
        serial.Serial, "read",
        side_effect=serial.SerialException(
            "device reports readiness to read but returned no data "
            "(device disconnected or multiple access on port?)"),
    )
    with pytest.raises(ModbusError, match="device disconnected"):
        Meter(master).read()
    mocker.stopall()
    assert Meter(master).read().voltage == 230.0


def test_noise_instead_of_a_reply(master, mocker):
    mocker.patch.object(serial.Serial, "read", side_effect=[b"\xff\x00\x13", b""])
    with pytest.raises(ModbusError, match="reply from unit 255"):
        Meter(master).read_energy_kwh()
    mocker.stopall()
    assert Meter(master).read_energy_kwh() == METER_START


def test_cannot_open_a_missing_device(tmp_path):
    with pytest.raises(OSError, match="cannot open serial device .*nothing-here"):
        open_serial(str(tmp_path / "nothing-here"))
