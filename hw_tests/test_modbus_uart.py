"""The board's serial path (machine.UART, an RS-485 driver-enable pin, GPIO
relays) with a stand-in `machine` module: no board here, so the UART is a
fake whose far end is the simulator's own RTU slave, in-process."""
from __future__ import annotations

import sys
import types

import pytest

from evengine.meter import Meter
from evengine.modbus import ModbusMaster, ModbusTimeout
from evengine.relay import GpioRelay, GpioVehicleInput, RelayMismatch
from evengine.serialport import UartPort, frame_gap_ms, open_serial, parse_uart_spec
from evsim.devices import bus_devices
from evsim.model import ChargePointModel
from evsim.rtu import RtuSlave


class FakePin:
    OUT, IN = "out", "in"
    made: dict[int, FakePin] = {}

    def __init__(self, pin_id, mode=None):
        self.pin_id, self.mode, self.level = pin_id, mode, 0
        self.history: list[int] = []
        FakePin.made[pin_id] = self

    def value(self, level=None):
        if level is None:
            return self.level
        self.level = level
        self.history.append(level)


class FakeUart:
    """A UART whose line ends in the simulator's RTU slave."""

    last: FakeUart | None = None

    def __init__(self, uart_id, **options):
        self.uart_id, self.options = uart_id, options
        self.slave = RtuSlave(bus_devices(ChargePointModel(meter_start_kwh=321.5)))
        self.rx = b""
        self.de_during_write: list[int] = []
        FakeUart.last = self

    def write(self, data):
        de = FakePin.made.get(self.options.get("_de_pin"))
        self.de_during_write.append(de.level if de else -1)
        for _request, reply in self.slave.feed(bytes(data)):
            self.rx += reply

    def flush(self):
        pass

    def any(self):
        return len(self.rx)

    def read(self, n=None):
        n = len(self.rx) if n is None else n
        chunk, self.rx = self.rx[:n], self.rx[n:]
        return chunk or None

    def deinit(self):
        self.deinitialised = True


@pytest.fixture
def machine(monkeypatch):
    FakePin.made = {}
    fake = types.ModuleType("machine")
    fake.Pin = FakePin
    fake.UART = FakeUart
    monkeypatch.setitem(sys.modules, "machine", fake)
    return fake


def test_parse_uart_spec():
    assert parse_uart_spec("uart:1") == (1, None, None, None)
    assert parse_uart_spec("uart:2:17:16") == (2, 17, 16, None)
    assert parse_uart_spec("uart:2:17:16:4") == (2, 17, 16, 4)
    for bad in ("uart:", "uart:1:17", "uart:a:b:c", "uart:1:2:3:4:5"):
        with pytest.raises(ValueError, match="bad serial device"):
            parse_uart_spec(bad)


def test_frame_gap_follows_baud_rate():
    assert frame_gap_ms(9600) == 5  # 3.5 chars x 11 bits = 4.01 ms, rounded up
    assert frame_gap_ms(2400) == 17
    assert frame_gap_ms(19200) == 3
    assert frame_gap_ms(115200) == 2  # the spec's fixed 1.75 ms above 19200


def test_meter_over_uart_with_driver_enable(machine):
    port = open_serial("uart:2:17:16:4", baudrate=9600)
    assert isinstance(port, UartPort)
    uart = FakeUart.last
    assert uart.uart_id == 2 and uart.options["baudrate"] == 9600
    assert (uart.options["tx"].pin_id, uart.options["rx"].pin_id) == (17, 16)
    uart.options["_de_pin"] = 4
    master = ModbusMaster(port, timeout_ms=50)
    assert Meter(master).read_energy_kwh() == 321.5
    assert uart.de_during_write == [1]  # driving the bus while sending
    assert FakePin.made[4].history == [0, 1, 0]  # released afterwards, to listen
    port.close()
    assert uart.deinitialised


def test_uart_read_timeout_and_reset(machine):
    port = open_serial("uart:1")
    uart = FakeUart.last
    with pytest.raises(ModbusTimeout):
        ModbusMaster(port, timeout_ms=20).read_input_registers(9, 0, 2)  # nobody answers
    uart.rx = b"\x01\x02\x03"
    assert port.read(5, 10) == b"\x01\x02\x03"  # fewer on timeout
    uart.rx = b"stale"
    port.reset_input()
    assert uart.any() == 0


def test_gpio_relay_and_vehicle_input_from_pin_ids(machine):
    relay = GpioRelay(25, active_high=True, feedback_pin=26)
    contactor, aux = FakePin.made[25], FakePin.made[26]
    assert (contactor.mode, aux.mode) == (FakePin.OUT, FakePin.IN)
    with pytest.raises(RelayMismatch) as dead:
        relay.set(True)  # the auxiliary contact never closes
    assert dead.value.kind == "dead"
    aux.level = 1
    relay.set(True)
    assert contactor.level == 1
    plugged = GpioVehicleInput(27)
    FakePin.made[27].level = 1
    assert plugged.is_connected()
