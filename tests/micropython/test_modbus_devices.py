# Meter, relay, vehicle input and card reader drivers on a scripted bus:
# exact requests out, decoded values back. MicroPython and CPython.
from test_modbus_frames import FakePort, raises, unhex

from evengine.meter import Meter, MeterValueError, registers_to_float
from evengine.modbus import ModbusMaster
from evengine.relay import (
    CardReaderError,
    GpioRelay,
    GpioVehicleInput,
    ModbusCardReader,
    ModbusRelay,
    ModbusVehicleInput,
    RelayMismatch,
    decode_uid,
)

# 14 registers from 0x0000: 230.0 V at 0, 10.0 A at 6, 2300.0 W at 12
METER_BLOCK = unhex(
    "01 04 1c 43 66 00 00 00 00 00 00 00 00 00 00 41 20 00 00"
    " 00 00 00 00 00 00 00 00 45 0f c0 00 45 8c"
)
ENERGY_1234_5 = unhex("01 04 04 44 9a 50 00 f3 5b")
COIL_ON_ECHO = unhex("02 05 00 00 ff 00 8c 09")
COIL_OFF_ECHO = unhex("02 05 00 00 00 00 cd f9")
COIL_READS_ON = unhex("02 01 01 01 90 0c")
COIL_READS_OFF = unhex("02 01 01 00 51 cc")


def test_registers_to_float_high_word_first():
    assert registers_to_float([0x4366, 0x0000], 0) == 230.0
    assert registers_to_float([0, 0x449A, 0x5000], 1) == 1234.5


def test_meter_read_batches_two_requests():
    port = FakePort(METER_BLOCK, ENERGY_1234_5)
    reading = Meter(ModbusMaster(port)).read()
    assert port.written == [
        unhex("01 04 00 00 00 0e 71 ce"),
        unhex("01 04 00 48 00 02 f1 dd"),
    ]
    assert reading.voltage == 230.0
    assert reading.current == 10.0
    assert reading.power_kw == 2.3
    assert reading.energy_kwh == 1234.5


def test_meter_total_energy_register():
    port = FakePort(unhex("01 04 04 44 9a 50 00 f3 5b"))
    meter = Meter(ModbusMaster(port), energy_register=0x0156)
    assert meter.read_energy_kwh() == 1234.5
    assert port.written == [unhex("01 04 01 56 00 02 90 27")]


def test_meter_rejects_nan_energy():
    nan_reply = unhex("01 04 04 7f c0 00 00 e2 6c")
    exc = raises(MeterValueError, Meter(ModbusMaster(FakePort(nan_reply))).read_energy_kwh)
    assert "invalid energy" in str(exc)


def test_relay_set_writes_then_reads_back():
    port = FakePort(COIL_ON_ECHO, COIL_READS_ON)
    relay = ModbusRelay(ModbusMaster(port))
    relay.set(True)
    assert port.written == [COIL_ON_ECHO, unhex("02 01 00 00 00 01 fd f9")]


def test_relay_welded_contactor():
    port = FakePort(COIL_OFF_ECHO, COIL_READS_ON)
    exc = raises(RelayMismatch, ModbusRelay(ModbusMaster(port)).set, False)
    assert (exc.commanded, exc.actual, exc.kind) == (False, True, "welded")
    assert "welded" in str(exc)


def test_relay_dead_contactor():
    port = FakePort(COIL_ON_ECHO, COIL_READS_OFF)
    exc = raises(RelayMismatch, ModbusRelay(ModbusMaster(port)).set, True)
    assert (exc.commanded, exc.actual, exc.kind) == (True, False, "dead")


def test_relay_inverted_module():
    # on_value=False: the contact closes when the coil is off
    port = FakePort(COIL_OFF_ECHO, COIL_READS_OFF)
    relay = ModbusRelay(ModbusMaster(port), on_value=False)
    relay.set(True)
    assert port.written[0] == COIL_OFF_ECHO


def test_vehicle_input():
    port = FakePort(unhex("02 02 01 01 60 0c"))
    assert ModbusVehicleInput(ModbusMaster(port)).is_connected() is True
    assert port.written == [unhex("02 02 00 00 00 01 b9 f9")]


def test_card_reader_reports_each_swipe_once():
    first = unhex("03 04 12 00 05 41 42 43 31 00 00 00 00 00 00 00 00 00 00 00 00 44 25")
    second = unhex("03 04 12 00 06 41 42 43 31 00 00 00 00 00 00 00 00 00 00 00 00 b4 d5")
    port = FakePort(first, first, second, second)
    reader = ModbusCardReader(ModbusMaster(port))
    assert reader.poll() is None  # the first poll learns the counter
    assert reader.poll() is None  # nothing new
    assert reader.poll() == "ABC1"
    assert reader.poll() is None
    assert port.written[0] == unhex("03 04 00 00 00 09 31 ee")


def test_decode_uid():
    assert decode_uid([0x3034, 0x4131, 0x4200, 0]) == "04A1B"
    assert decode_uid([0x4142] * 8) == "AB" * 8
    raises(CardReaderError, decode_uid, [0x41FF])


class FakePin:
    def __init__(self, level=0):
        self.level = level

    def value(self, level=None):
        if level is None:
            return self.level
        self.level = level


def test_gpio_relay_active_low_with_feedback():
    out = FakePin(0)
    aux = FakePin(0)
    relay = GpioRelay(out, active_high=False, feedback_pin=aux)
    assert out.level == 1  # open at construction
    aux.level = 1  # the auxiliary contact follows the contactor
    relay.set(True)
    assert out.level == 0
    assert relay.is_closed()


def test_gpio_relay_welded_seen_through_feedback():
    out = FakePin()
    aux = FakePin(1)  # contacts stuck closed
    exc = raises(RelayMismatch, GpioRelay(out, feedback_pin=aux).set, False)
    assert exc.kind == "welded"


def test_gpio_vehicle_input():
    pin = FakePin(0)
    plugged = GpioVehicleInput(pin, active_high=False)
    assert plugged.is_connected()
    pin.level = 1
    assert not plugged.is_connected()
