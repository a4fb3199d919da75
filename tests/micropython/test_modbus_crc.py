# CRC-16/MODBUS check values (poly 0xA001 reflected, init 0xFFFF, sent low
# byte first). Vectors: the CRC catalogue's check value and request frames
# printed in the Modbus specifications.
from test_modbus_frames import unhex

from evengine.modbus import crc16_modbus, crc_ok


def test_check_value():
    assert crc16_modbus(b"123456789") == 0x4B37


def test_empty_input_is_the_initial_value():
    assert crc16_modbus(b"") == 0xFFFF


def test_spec_read_holding_registers_example():
    # Modbus over Serial Line V1.02 / application note: 11 03 00 6B 00 03 -> 76 87
    assert crc16_modbus(unhex("11 03 00 6b 00 03")) == 0x8776


def test_common_request_example():
    # 01 03 00 00 00 0A C5 CD, the request every Modbus tutorial shows
    assert crc16_modbus(unhex("01 03 00 00 00 0a")) == 0xCDC5


def test_length_limits_the_covered_bytes():
    frame = unhex("01 04 00 00 00 0e 71 ce")
    assert crc16_modbus(frame, 6) == 0xCE71


def test_crc_ok_accepts_good_and_rejects_damaged_frames():
    frame = unhex("01 04 04 43 66 00 00 0e 1f")
    assert crc_ok(frame)
    assert not crc_ok(frame[:-1] + b"\x1e")
    assert not crc_ok(b"\x01\x84\x02")  # too short to carry a CRC
    damaged = bytearray(frame)
    damaged[4] ^= 0x01
    assert not crc_ok(damaged)
