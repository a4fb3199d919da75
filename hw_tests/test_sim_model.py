"""The simulator's physics and its Modbus slave, in-process (no I/O): exact
numbers for the car model, exact frames for the RTU framing and replies."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evengine.modbus import build_request, crc16_modbus
from evsim.commands import ControlCommands
from evsim.devices import bus_devices, float_registers
from evsim.model import ChargePointModel
from evsim.rtu import RtuSlave, with_crc


def request(unit: int, function: int, address: int, value: int) -> bytes:
    return bytes(build_request(bytearray(8), unit, function, address, value))


@pytest.fixture
def model() -> ChargePointModel:
    return ChargePointModel(meter_start_kwh=100.0)


@pytest.fixture
def slave(model) -> RtuSlave:
    return RtuSlave(bus_devices(model))


# -- the car -------------------------------------------------------------------


def test_power_needs_plug_and_closed_contacts(model):
    assert model.power_kw() == 0.0  # contactor open
    model.coil_on = True
    assert model.power_kw() == 11.0
    model.plugged = False
    assert model.power_kw() == 0.0


@pytest.mark.parametrize("soc, fraction", [(20, 1.0), (80, 1.0), (85, 0.75), (90, 0.5),
                                           (99, 0.05), (99.9, 0.02), (100, 0.0)])
def test_linear_taper_above_80_percent(soc, fraction):
    car = ChargePointModel(soc=soc, power_limit_kw=10.0)
    car.coil_on = True
    assert car.power_kw() == pytest.approx(10.0 * fraction)


def test_energy_integrates_with_time_scale():
    car = ChargePointModel(power_limit_kw=12.0, time_scale=60.0, meter_start_kwh=5.0)
    car.coil_on = True
    assert car.advance(1.0) == pytest.approx(12.0 * 60 / 3600)  # one simulated minute
    assert car.meter_kwh == pytest.approx(5.2)
    assert car.soc == pytest.approx(20 + 0.2 / 60 * 100)


def test_charging_stops_exactly_at_full():
    car = ChargePointModel(battery_kwh=2.0, soc=99.0, time_scale=3600.0)
    car.coil_on = True
    delivered = sum(car.advance(0.1) for _ in range(100))
    assert delivered == pytest.approx(0.02)  # the 1 % that was left of 2 kWh
    assert car.soc == 100.0 and car.full
    assert car.power_kw() == 0.0
    assert car.advance(10.0) == 0.0


def test_weld_and_dead_override_the_coil(model):
    model.welded = True
    assert model.relay_closed  # stuck closed even though the coil is off
    model.recover()
    model.coil_on = True
    model.dead = True
    assert not model.relay_closed
    model.recover()
    assert model.relay_closed


def test_current_is_power_over_voltage(model):
    model.coil_on = True
    assert model.current_a() == pytest.approx(11000 / 230)


def test_swipe_validation(model):
    model.swipe("04A1B2")
    assert (model.swipes, model.last_uid) == (1, "04A1B2")
    for bad in ("", "X" * 17, "with space", "caf\u00e9"):
        with pytest.raises(ValueError):
            model.swipe(bad)
    assert model.swipes == 1


def test_swipe_counter_wraps_at_16_bits(model):
    model.swipes = 0xFFFF
    model.swipe("A")
    assert model.swipes == 0


def test_commands_reply_with_status(model):
    commands = ControlCommands(model)
    reply = commands.execute("weld on")
    assert reply["ok"] and reply["welded"] and reply["relay_closed"]
    assert commands.execute("RECOVER")["welded"] is False
    assert commands.execute("crc 3")["crc_errors_pending"] == 3
    assert commands.execute("status junk") == {
        "ok": False, "error": "usage: status (takes no arguments)"}


# -- the Modbus slave ---------------------------------------------------------


def test_float32_high_word_first():
    assert float_registers(230.0) == (0x4366, 0x0000)
    assert float_registers(1234.5) == (0x449A, 0x5000)


def test_meter_energy_reply(slave):
    [(req, reply)] = slave.feed(request(1, 4, 0x0048, 2))
    assert req == request(1, 4, 0x0048, 2)
    assert reply == with_crc(bytes.fromhex("010404" "42c80000"))  # 100.0 kWh


def test_request_split_across_reads(slave):
    frame = request(2, 1, 0, 1)
    assert slave.feed(frame[:3]) == []
    assert slave.pending == 3
    [(_req, reply)] = slave.feed(frame[3:])
    assert reply == with_crc(bytes.fromhex("020101" "00"))


def test_two_requests_in_one_read(slave):
    answered = slave.feed(request(2, 5, 0, 0xFF00) + request(2, 1, 0, 1))
    assert [reply for _req, reply in answered] == [
        request(2, 5, 0, 0xFF00),  # the echo
        with_crc(bytes.fromhex("020101" "01")),
    ]


def test_garbage_is_skipped_and_counted(slave):
    answered = slave.feed(b"\x00\xff\x01\x04\x99" + request(1, 4, 0, 2))
    assert [reply for _req, reply in answered] == [with_crc(bytes.fromhex("010404" "43660000"))]
    assert slave.discarded_bytes == 5


def test_unknown_unit_and_silent_meter_get_no_reply(model, slave):
    assert slave.feed(request(9, 4, 0, 2)) == []
    model.meter_silent = True
    assert slave.feed(request(1, 4, 0, 2)) == []
    assert slave.feed(request(2, 2, 0, 1)) != []  # the relay module still answers
    assert slave.requests == 3


def test_crc_fault_only_on_meter_replies(model, slave):
    model.crc_errors_pending = 1
    [(_req, relay_reply)] = slave.feed(request(2, 1, 0, 1))
    assert relay_reply == with_crc(relay_reply[:-2])
    [(_req, meter_reply)] = slave.feed(request(1, 4, 0, 2))
    crc = crc16_modbus(meter_reply[:-2])
    assert meter_reply[-2:] != bytes((crc & 0xFF, crc >> 8))
    assert model.crc_errors_pending == 0


@pytest.mark.parametrize("frame, code", [
    (request(1, 3, 0, 2), 1),  # read holding registers: not offered
    (request(2, 4, 0, 2), 1),  # the relay module has no input registers
    (request(1, 4, 0x01FF, 2), 2),  # runs past the meter's register space
    (request(3, 4, 0, 10), 2),  # the card reader has 9 registers
    (request(1, 4, 0, 126), 3),  # more than 125 registers
    (request(2, 1, 0, 0), 3),  # zero bits
    (request(2, 5, 0, 0x0001), 3),  # a coil value that is neither on nor off
])
def test_exception_replies(slave, frame, code):
    [(_req, reply)] = slave.feed(frame)
    assert reply == with_crc(bytes((frame[0], frame[1] | 0x80, code)))


def test_write_multiple_is_framed_and_refused(slave):
    body = bytes.fromhex("020f0000000801ff")  # FC15: 8 coils, 1 data byte
    [(_req, reply)] = slave.feed(with_crc(body) + request(2, 1, 0, 1))[:1]
    assert reply == with_crc(bytes((2, 0x8F, 1)))
    assert slave.pending == 0


def test_discard_partial(slave):
    slave.feed(b"\x01\x04\x00")
    assert slave.discard_partial() == 3
    assert slave.feed(request(1, 4, 0, 2)) != []


def test_noise_that_looks_like_a_long_frame_does_not_hide_a_request(slave):
    # "01 10 .. .. .. .. 20" announces a 41-byte FC16 frame that never comes
    [(_req, reply)] = slave.feed(bytes.fromhex("0110000000102001") + request(1, 4, 0, 2))
    assert reply == with_crc(bytes.fromhex("010404" "43660000"))


@settings(derandomize=True, max_examples=300, deadline=None)
@given(noise=st.binary(max_size=64),
       frame=st.sampled_from([request(1, 4, 0, 14), request(2, 5, 0, 0xFF00),
                              request(2, 2, 0, 1), request(3, 4, 0, 9)]))
def test_a_request_after_any_noise_is_answered(noise, frame):
    slave = RtuSlave(bus_devices(ChargePointModel()))
    answered = slave.feed(noise + frame)
    assert answered and answered[-1][0] == frame
    assert slave.pending == 0
