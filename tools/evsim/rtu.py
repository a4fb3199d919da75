"""Modbus RTU slave side of the simulated bus: framing, validation, replies.

Requests are framed by their length per function code (8 bytes for 1..6,
9 + byte count for 15/16); a candidate whose CRC fails loses its first byte
and framing starts again one byte later, so garbage on the line costs at most
the request it overlaps. A unit nobody answers for gets no reply (as on
RS-485); a function or address the unit lacks gets an exception reply.
"""
from __future__ import annotations

import struct

from evsim.devices import ILLEGAL_FUNCTION, ILLEGAL_VALUE, Device, SlaveException

# function code -> the device method that answers it
FUNCTIONS = {
    1: "read_coils",
    2: "read_discrete_inputs",
    3: "read_holding_registers",
    4: "read_input_registers",
    5: "write_coil",
    6: "write_register",
}
FIXED_LENGTH_FUNCTIONS = frozenset(range(1, 7))  # unit fc addr(2) value(2) crc(2)
WRITE_MULTIPLE_FUNCTIONS = frozenset((15, 16))  # ... count(2) byte_count data crc(2)
MAX_FRAME = 256
MAX_BITS = 2000
MAX_REGISTERS = 125
COIL_ON = 0xFF00


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


# The simulator computes CRC-16/MODBUS its own (table-driven) way rather than
# borrowing the Engine's: a bug in the Engine's CRC must not be agreed with here.
_CRC_TABLE = _crc_table()


def crc16_modbus(data: bytes | bytearray | memoryview, length: int | None = None) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in bytes(data[:len(data) if length is None else length]):
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc
COIL_OFF = 0x0000


def with_crc(body: bytes) -> bytes:
    crc = crc16_modbus(body)
    return bytes(body) + bytes((crc & 0xFF, crc >> 8))


def crc_matches(frame: bytes | bytearray) -> bool:
    return len(frame) >= 4 and with_crc(frame[:-2])[-2:] == bytes(frame[-2:])


def pack_bits(bits: list[bool]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def _later_request_offset(buf: bytearray) -> int | None:
    """Offset > 0 of a complete, CRC-valid fixed-length request, or None."""
    for offset in range(1, len(buf) - 7):
        if buf[offset + 1] in FIXED_LENGTH_FUNCTIONS and crc_matches(buf[offset:offset + 8]):
            return offset
    return None


def _crc_terminated_length(buf: bytearray) -> int:
    """Length of the shortest prefix (>= 4 bytes) ending in its own CRC, or -1."""
    crc = 0xFFFF
    limit = min(len(buf), MAX_FRAME)
    for i in range(limit - 2):
        crc ^= buf[i]
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        if i >= 1 and buf[i + 1] == crc & 0xFF and buf[i + 2] == crc >> 8:
            return i + 3
    return -1


class RtuSlave:
    """Feed it bytes from the line; it returns the replies to send back."""

    def __init__(self, devices: dict[int, Device]):
        self.devices = devices
        self._buffer = bytearray()
        self.requests = 0  # well-formed requests seen (any unit)
        self.discarded_bytes = 0  # garbage skipped while resynchronising

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """(request, reply) for each complete request that gets an answer."""
        self._buffer += data
        answered = []
        while (frame := self._next_frame()) is not None:
            self.requests += 1
            reply = self.answer(frame)
            if reply is not None:
                answered.append((frame, reply))
        return answered

    def discard_partial(self) -> int:
        """Drop an unfinished frame (called after the line went quiet)."""
        dropped = len(self._buffer)
        self.discarded_bytes += dropped
        self._buffer.clear()
        return dropped

    def _next_frame(self) -> bytes | None:
        buf = self._buffer
        while len(buf) >= 4:
            length = self._candidate_length(buf)
            if length == 0 or len(buf) < length:
                # Waiting for the rest of a candidate; but if a complete
                # request already sits further on, the candidate was noise.
                skip = _later_request_offset(buf)
                if skip is None:
                    return None
                del buf[:skip]
                self.discarded_bytes += skip
                continue
            if length > 0 and crc_matches(buf[:length]):
                frame = bytes(buf[:length])
                del buf[:length]
                return frame
            del buf[0]
            self.discarded_bytes += 1
        return None

    def _candidate_length(self, buf: bytearray) -> int:
        """>0: frame length to try; 0: need more bytes; -1: no frame starts here."""
        function = buf[1]
        if function in FIXED_LENGTH_FUNCTIONS:
            return 8
        if function in WRITE_MULTIPLE_FUNCTIONS:
            if len(buf) < 7:
                return 0
            length = 9 + buf[6]
            return length if length <= MAX_FRAME else -1
        if buf[0] not in self.devices:
            return -1
        # A function we cannot size, for one of our units: accept it if some
        # prefix ends in its own CRC (a real request), so it gets an
        # "illegal function" reply.
        return _crc_terminated_length(buf)

    def answer(self, frame: bytes) -> bytes | None:
        unit, function = frame[0], frame[1]
        device = self.devices.get(unit)
        if device is None or device.silent():
            return None
        try:
            body = bytes((unit, function)) + self._call(device, function, frame)
        except SlaveException as exc:
            body = bytes((unit, function | 0x80, exc.code))
        reply = with_crc(body)
        if device.take_crc_fault():
            reply = reply[:-2] + bytes((reply[-2] ^ 0xFF, reply[-1] ^ 0xFF))
        return reply

    @staticmethod
    def _call(device: Device, function: int, frame: bytes) -> bytes:
        name = FUNCTIONS.get(function)
        handler = getattr(device, name, None) if name else None
        if handler is None:
            raise SlaveException(ILLEGAL_FUNCTION, f"function {function} not supported")
        address, value = struct.unpack(">HH", frame[2:6])
        if name == "write_coil":
            if value not in (COIL_ON, COIL_OFF):
                raise SlaveException(ILLEGAL_VALUE, f"coil value 0x{value:04x}")
            handler(address, value == COIL_ON)
            return frame[2:6]
        if name == "write_register":
            handler(address, value)
            return frame[2:6]
        if name in ("read_input_registers", "read_holding_registers"):
            if not 1 <= value <= MAX_REGISTERS:
                raise SlaveException(ILLEGAL_VALUE, f"register count {value}")
            words = handler(address, value)
            return bytes((2 * value,)) + struct.pack(f">{value}H", *words)
        if not 1 <= value <= MAX_BITS:
            raise SlaveException(ILLEGAL_VALUE, f"bit count {value}")
        packed = pack_bits(handler(address, value))
        return bytes((len(packed),)) + packed
