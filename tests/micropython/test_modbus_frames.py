# Modbus RTU frames, byte for byte, against a scripted port (micropython-lib
# style). Runs on MicroPython (tests/micropython/run.py) and CPython (hw_tests).
# FakePort and raises() are shared with the other test_modbus_* modules.
import binascii

from evengine.modbus import (
    ModbusCRCError,
    ModbusError,
    ModbusException,
    ModbusMaster,
    ModbusTimeout,
    build_request,
    decode_bits,
    decode_registers,
)


def unhex(text):
    return binascii.unhexlify(text.replace(" ", ""))


class FakePort:
    """Records what the master writes; read() serves the scripted replies,
    one reply per written request, in order. A reply of b"" means silence."""

    frame_gap_ms = 0

    def __init__(self, *replies):
        self.replies = list(replies)
        self.written = []
        self.resets = 0
        self._pending = b""

    def write(self, data):
        self.written.append(bytes(data))
        self._pending = self.replies.pop(0) if self.replies else b""

    def read(self, n, timeout_ms=None):
        chunk = self._pending[:n]
        self._pending = self._pending[n:]
        return chunk

    def reset_input(self):
        self.resets += 1

    def close(self):
        pass


def raises(exc_type, fn, *args):
    """Call fn(*args); return the exception it raised, which must be exc_type."""
    try:
        fn(*args)
    except exc_type as exc:
        return exc
    raise AssertionError("%s not raised" % exc_type.__name__)



def test_build_request_fc04():
    buf = bytearray(8)
    build_request(buf, 1, 4, 0x0000, 14)
    assert bytes(buf) == unhex("01 04 00 00 00 0e 71 ce")


def test_build_request_fc05_on():
    buf = bytearray(8)
    build_request(buf, 2, 5, 0x0000, 0xFF00)
    assert bytes(buf) == unhex("02 05 00 00 ff 00 8c 09")


def test_read_input_registers_request_and_parse():
    port = FakePort(unhex("01 04 04 44 9a 50 00 f3 5b"))
    master = ModbusMaster(port)
    assert master.read_input_registers(1, 0x0048, 2) == [0x449A, 0x5000]
    assert port.written == [unhex("01 04 00 48 00 02 f1 dd")]
    assert port.resets == 1
    assert master.requests == 1


def test_read_coils_request_and_parse():
    port = FakePort(unhex("02 01 01 01 90 0c"))
    master = ModbusMaster(port)
    assert master.read_coils(2, 0, 1) == [True]
    assert port.written == [unhex("02 01 00 00 00 01 fd f9")]


def test_read_discrete_inputs_request_and_parse():
    port = FakePort(unhex("02 02 01 00 a1 cc"))
    master = ModbusMaster(port)
    assert master.read_discrete_inputs(2, 0, 1) == [False]
    assert port.written == [unhex("02 02 00 00 00 01 b9 f9")]


def test_write_coil_checks_echo():
    port = FakePort(unhex("02 05 00 00 00 00 cd f9"))
    ModbusMaster(port).write_coil(2, 0, False)
    assert port.written == [unhex("02 05 00 00 00 00 cd f9")]


def test_write_coil_wrong_echo_is_an_error():
    # the module echoes "off" (valid CRC) after being told "on"
    port = FakePort(unhex("02 05 00 00 00 00 cd f9"))
    exc = raises(ModbusError, ModbusMaster(port).write_coil, 2, 0, True)
    assert "echo" in str(exc)


def test_exception_reply_is_five_bytes():
    port = FakePort(unhex("01 84 02 c2 c1"))
    master = ModbusMaster(port)
    exc = raises(ModbusException, master.read_input_registers, 1, 0x0300, 2)
    assert exc.code == 2
    assert "illegal data address" in str(exc)
    assert master.exceptions == 1


def test_no_reply_is_a_timeout():
    port = FakePort(b"")
    master = ModbusMaster(port, timeout_ms=10)
    exc = raises(ModbusTimeout, master.read_input_registers, 9, 0, 2)
    assert "no reply" in str(exc)
    assert master.timeouts == 1


def test_truncated_reply_is_a_timeout():
    port = FakePort(unhex("01 04 04 43 66"))
    master = ModbusMaster(port, timeout_ms=10)
    exc = raises(ModbusTimeout, master.read_input_registers, 1, 0, 2)
    assert "incomplete" in str(exc)
    assert master.timeouts == 1


def test_corrupted_crc_then_recovery():
    good = unhex("01 04 04 43 66 00 00 0e 1f")
    bad = good[:-1] + b"\x00"
    port = FakePort(bad, good)
    master = ModbusMaster(port)
    raises(ModbusCRCError, master.read_input_registers, 1, 0, 2)
    assert master.read_input_registers(1, 0, 2) == [0x4366, 0x0000]
    assert master.crc_errors == 1
    assert master.requests == 2


def test_reply_from_another_unit_is_an_error():
    port = FakePort(unhex("02 01 01 01 90 0c"))
    exc = raises(ModbusError, ModbusMaster(port).read_input_registers, 1, 0, 2)
    assert "reply from unit 2" in str(exc)


def test_wrong_byte_count_is_an_error():
    # asked for 9 registers, the reply announces 2
    port = FakePort(unhex("01 04 04 43 66 00 00 0e 1f"))
    exc = raises(ModbusError, ModbusMaster(port).read_input_registers, 1, 0, 9)
    assert "expected 18" in str(exc)


def test_bad_arguments_are_refused_before_sending():
    port = FakePort()
    master = ModbusMaster(port)
    raises(ValueError, master.read_input_registers, 1, 0, 126)
    raises(ValueError, master.read_coils, 1, 0, 0)
    raises(ValueError, master.read_input_registers, 0, 0, 1)
    raises(ValueError, master.read_input_registers, 1, 0x10000, 1)
    assert port.written == []


def test_decode_helpers():
    frame = unhex("02 01 02 05 01 00 00")
    assert decode_bits(frame, 9) == [True, False, True, False, False, False, False, False, True]
    assert decode_registers(unhex("01 04 04 12 34 ab cd 00 00"), 2) == [0x1234, 0xABCD]
