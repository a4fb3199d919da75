# Modbus RTU master: the Engine's end of the RS-485 bus to the energy meter,
# the relay module and the card reader. Five function codes are all the
# Engine needs (FC01, FC02, FC04, FC05, and FC06 for the pilot's duty cycle).
# Each request is 8 bytes; each reply
# is read by its expected length, so the master never waits for a silence
# it cannot measure reliably on a PC. Runs on CPython and MicroPython.
from evwire.compat import const, sleep_ms, ticks_diff, ticks_ms

READ_COILS = const(1)
READ_DISCRETE_INPUTS = const(2)
READ_INPUT_REGISTERS = const(4)
WRITE_SINGLE_COIL = const(5)
WRITE_SINGLE_REGISTER = const(6)

MAX_REGISTERS = const(125)  # per FC04 request (Modbus application protocol 6.4)
MAX_BITS = const(2000)  # per FC01/FC02 request
COIL_ON = const(0xFF00)
COIL_OFF = const(0x0000)
EXCEPTION_FLAG = const(0x80)

# Exception codes a slave may answer with (Modbus application protocol 7).
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "slave device failure",
    5: "acknowledge",
    6: "slave device busy",
}

# Once a reply has begun, its remaining bytes follow within a few character
# times; allow at least this much even if the overall timeout is used up.
_MIN_TAIL_MS = const(20)


class ModbusError(Exception):
    """Any failed Modbus transaction; str() says which unit, function and why."""


class ModbusTimeout(ModbusError):
    """No reply, or an incomplete one, within the timeout."""


class ModbusCRCError(ModbusError):
    """A reply arrived but its CRC does not match (line noise)."""


class ModbusException(ModbusError):
    """The slave answered with an exception reply; .code is its code byte."""

    def __init__(self, unit, function, code):
        super().__init__(
            "unit %d function %d: exception %d (%s)"
            % (unit, function, code, EXCEPTION_NAMES.get(code, "unknown"))
        )
        self.unit = unit
        self.function = function
        self.code = code


def crc16_modbus(data, length=None):
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    if length is None:
        length = len(data)
    crc = 0xFFFF
    for i in range(length):
        crc ^= data[i]
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


def build_request(buf, unit, function, address, value):
    """Fill the 8-byte request buf: unit, function, address, value, CRC."""
    buf[0] = unit
    buf[1] = function
    buf[2] = (address >> 8) & 0xFF
    buf[3] = address & 0xFF
    buf[4] = (value >> 8) & 0xFF
    buf[5] = value & 0xFF
    crc = crc16_modbus(buf, 6)
    buf[6] = crc & 0xFF
    buf[7] = crc >> 8
    return buf


def crc_ok(frame):
    n = len(frame)
    if n < 4:
        return False
    crc = crc16_modbus(frame, n - 2)
    return frame[n - 2] == (crc & 0xFF) and frame[n - 1] == (crc >> 8)


def decode_registers(frame, count):
    """The count big-endian registers of a read reply (after its 3-byte head)."""
    return [(frame[3 + 2 * i] << 8) | frame[4 + 2 * i] for i in range(count)]


def decode_bits(frame, count):
    """The count bits of a read-bits reply, least significant bit first."""
    return [bool(frame[3 + (i >> 3)] & (1 << (i & 7))) for i in range(count)]


def _check_range(what, value, low, high):
    if not low <= value <= high:
        raise ValueError("%s must be %d..%d, got %r" % (what, low, high, value))


class ModbusMaster:
    """Transactions on one bus; one at a time, as RTU requires.

    Counters (for health reports and tests): .requests, .timeouts,
    .crc_errors, .exceptions.
    """

    def __init__(self, port, timeout_ms=200):
        self.port = port
        self.timeout_ms = timeout_ms
        self.requests = 0
        self.timeouts = 0
        self.crc_errors = 0
        self.exceptions = 0
        self._request = bytearray(8)
        self._gap_ms = getattr(port, "frame_gap_ms", 0)
        self._last_frame_end = ticks_ms() - self._gap_ms

    def read_input_registers(self, unit, address, count):
        """FC04 -> list of count ints (0..65535)."""
        _check_range("register count", count, 1, MAX_REGISTERS)
        frame = self._transact(unit, READ_INPUT_REGISTERS, address, count, 2 * count)
        return decode_registers(frame, count)

    def read_coils(self, unit, address, count):
        """FC01 -> list of count bools."""
        return self._read_bits(unit, READ_COILS, address, count)

    def read_discrete_inputs(self, unit, address, count):
        """FC02 -> list of count bools."""
        return self._read_bits(unit, READ_DISCRETE_INPUTS, address, count)

    def write_coil(self, unit, address, on):
        """FC05; the slave's echo must repeat the request exactly."""
        frame = self._transact(unit, WRITE_SINGLE_COIL, address, COIL_ON if on else COIL_OFF, None)
        for i in range(6):
            if frame[i] != self._request[i]:
                raise ModbusError(
                    "unit %d function 5: echo does not match the request" % unit
                )

    def write_register(self, unit, address, value):
        """FC06 (the pilot's duty cycle); the slave's echo must repeat the request."""
        _check_range("register value", value, 0, 0xFFFF)
        frame = self._transact(unit, WRITE_SINGLE_REGISTER, address, value, None)
        for i in range(6):
            if frame[i] != self._request[i]:
                raise ModbusError(
                    "unit %d function 6: echo does not match the request" % unit
                )

    def _read_bits(self, unit, function, address, count):
        _check_range("bit count", count, 1, MAX_BITS)
        frame = self._transact(unit, function, address, count, (count + 7) >> 3)
        return decode_bits(frame, count)

    def _transact(self, unit, function, address, value, byte_count):
        """Send one request, return the validated reply frame.

        byte_count: the data length a read reply must announce; None for
        FC05/FC06, whose reply is the 8-byte echo."""
        # Unit 0 is broadcast, which no slave answers: not a transaction.
        _check_range("unit", unit, 1, 247)
        _check_range("address", address, 0, 0xFFFF)
        build_request(self._request, unit, function, address, value)
        self._keep_frame_gap()
        self.requests += 1
        try:
            self.port.reset_input()
            self.port.write(self._request)
            return self._receive(unit, function, byte_count)
        except OSError as exc:
            raise ModbusError("unit %d function %d: serial port error: %s" % (unit, function, exc))
        finally:
            self._last_frame_end = ticks_ms()

    def _keep_frame_gap(self):
        wait = self._gap_ms - ticks_diff(ticks_ms(), self._last_frame_end)
        if wait > 0:
            sleep_ms(wait)

    def _receive(self, unit, function, byte_count):
        start = ticks_ms()
        head = self.port.read(3, self.timeout_ms)
        if len(head) < 3:
            self.timeouts += 1
            if head:
                raise ModbusTimeout(
                    "unit %d function %d: incomplete reply (%d bytes) within %d ms"
                    % (unit, function, len(head), self.timeout_ms)
                )
            raise ModbusTimeout(
                "unit %d function %d: no reply within %d ms" % (unit, function, self.timeout_ms)
            )
        if head[0] != unit or (head[1] & 0x7F) != function:
            raise ModbusError(
                "unit %d function %d: reply from unit %d function %d"
                % (unit, function, head[0], head[1] & 0x7F)
            )
        if head[1] & EXCEPTION_FLAG:
            self._rest(head, 5, start, unit, function)
            self.exceptions += 1
            raise ModbusException(unit, function, head[2])
        if byte_count is None:
            total = 8
        elif head[2] != byte_count:
            raise ModbusError(
                "unit %d function %d: reply announces %d data bytes, expected %d"
                % (unit, function, head[2], byte_count)
            )
        else:
            total = 3 + byte_count + 2
        return self._rest(head, total, start, unit, function)

    def _rest(self, head, total, start, unit, function):
        """Read the reply's remaining bytes and check its CRC."""
        remaining = self.timeout_ms - ticks_diff(ticks_ms(), start)
        tail = self.port.read(total - 3, remaining if remaining > _MIN_TAIL_MS else _MIN_TAIL_MS)
        if len(tail) < total - 3:
            self.timeouts += 1
            raise ModbusTimeout(
                "unit %d function %d: incomplete reply (%d of %d bytes)"
                % (unit, function, 3 + len(tail), total)
            )
        frame = head + tail
        if not crc_ok(frame):
            self.crc_errors += 1
            raise ModbusCRCError("unit %d function %d: reply CRC mismatch" % (unit, function))
        return frame
