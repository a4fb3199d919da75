# The serial adapter: the one place where the Engine's serial I/O differs
# between a board (machine.UART), the MicroPython unix port (the device file)
# and CPython (pyserial). Every port offers the same four methods, which is
# all the Modbus master needs:
#
#   write(data) -> None
#   read(n, timeout_ms=None) -> bytes   up to n bytes, fewer on timeout, b"" if none
#   reset_input()                       discard whatever is waiting
#   close()
#
# and the attribute frame_gap_ms: the Modbus RTU silent interval (3.5
# characters) the master keeps between frames at this baud rate.
from evwire.compat import IS_MICROPYTHON, const, sleep_ms, ticks_diff, ticks_ms

UART_PREFIX = "uart:"
_MAX_FRAME = const(256)  # the longest Modbus RTU frame


def open_serial(device, baudrate=9600, timeout_ms=100):
    """Open a serial device: a path ("/dev/ttyUSB0", a pty or its link) or,
    on a board, "uart:ID[:TX:RX[:DE]]" (pin numbers; DE drives an RS-485
    transceiver's driver-enable pin around each write). Raises OSError or
    ValueError with a message naming the device."""
    if device.startswith(UART_PREFIX):
        return UartPort(device, baudrate, timeout_ms)
    if IS_MICROPYTHON:
        return UnixFilePort(device, baudrate, timeout_ms)
    return PyserialPort(device, baudrate, timeout_ms)


def frame_gap_ms(baudrate):
    # Modbus over serial line, 2.5.1.1: 3.5 characters of 11 bits; above
    # 19200 baud the spec fixes it at 1.75 ms.
    if baudrate > 19200:
        return 2
    return (38500 + baudrate - 1) // baudrate


def parse_uart_spec(spec):
    """'uart:ID[:TX:RX[:DE]]' -> (id, tx, rx, de), absent pins as None."""
    parts = spec[len(UART_PREFIX):].split(":")
    if len(parts) not in (1, 3, 4):
        raise ValueError("bad serial device %r: expected uart:ID[:TX:RX[:DE]]" % spec)
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ValueError("bad serial device %r: UART id and pins must be numbers" % spec)
    while len(numbers) < 4:
        numbers.append(None)
    return numbers[0], numbers[1], numbers[2], numbers[3]


class UartPort:
    """machine.UART on a board; optional RS-485 driver-enable pin."""

    def __init__(self, spec, baudrate, timeout_ms):
        import machine

        uart_id, tx, rx, de = parse_uart_spec(spec)
        options = {"baudrate": baudrate, "bits": 8, "parity": None, "stop": 1}
        if tx is not None:
            options["tx"] = machine.Pin(tx)
            options["rx"] = machine.Pin(rx)
        self._uart = machine.UART(uart_id, **options)
        self._de = None
        if de is not None:
            self._de = machine.Pin(de, machine.Pin.OUT)
            self._de.value(0)
        self._baudrate = baudrate
        self.timeout_ms = timeout_ms
        self.frame_gap_ms = frame_gap_ms(baudrate)

    def write(self, data):
        if self._de is not None:
            self._de.value(1)
        self._uart.write(data)
        if self._de is not None:
            # The transceiver must keep driving until the last stop bit has
            # left the shift register, or the slave sees a truncated frame.
            if hasattr(self._uart, "flush"):
                self._uart.flush()
            else:
                sleep_ms(len(data) * 11000 // self._baudrate + 1)
            self._de.value(0)

    def read(self, n, timeout_ms=None):
        if timeout_ms is None:
            timeout_ms = self.timeout_ms
        start = ticks_ms()
        out = b""
        while len(out) < n:
            waiting = self._uart.any()
            if waiting:
                chunk = self._uart.read(min(waiting, n - len(out)))
                if chunk:
                    out += chunk
                continue
            if ticks_diff(ticks_ms(), start) >= timeout_ms:
                break
            sleep_ms(1)
        return out

    def reset_input(self):
        while self._uart.any():
            self._uart.read()

    def close(self):
        if hasattr(self._uart, "deinit"):
            self._uart.deinit()


class UnixFilePort:
    """The MicroPython unix port: the device file, raw mode, select.poll.

    open() cannot pass O_NOCTTY here, so a micropython process that leads
    its own session makes the device its controlling terminal and is sent
    SIGHUP when the line hangs up (simulator gone, USB adapter pulled).
    Start it as a child inside another process's session (as
    `evcharge engine --runtime micropython` does), not under setsid."""

    def __init__(self, device, baudrate, timeout_ms):
        import select

        try:
            self._file = open(device, "r+b")
        except OSError as exc:
            raise OSError("cannot open serial device %s: %s" % (device, exc))
        _set_raw(self._file.fileno(), baudrate)
        self._poll = select.poll()
        self._poll.register(self._file, select.POLLIN)
        self._pollin = select.POLLIN
        self._one = bytearray(1)
        self._buf = bytearray(_MAX_FRAME)
        self.timeout_ms = timeout_ms
        self.frame_gap_ms = frame_gap_ms(baudrate)

    def write(self, data):
        self._file.write(data)

    def read(self, n, timeout_ms=None):
        # A FileIO read(n) blocks until all n bytes came, so bytes are taken
        # one at a time, each only after poll() said one is waiting.
        if timeout_ms is None:
            timeout_ms = self.timeout_ms
        if n > len(self._buf):
            self._buf = bytearray(n)
        start = ticks_ms()
        count = 0
        while count < n:
            remaining = timeout_ms - ticks_diff(ticks_ms(), start)
            if not self._wait(remaining if remaining > 0 else 0):
                break
            self._buf[count] = self._read_one()
            count += 1
        return bytes(self._buf[:count])

    def reset_input(self):
        while self._wait(0):
            self._read_one()

    def close(self):
        self._poll.unregister(self._file)
        self._file.close()

    def _wait(self, timeout_ms):
        for _obj, events in self._poll.poll(timeout_ms):
            if events & self._pollin:
                return True
            raise OSError("serial device hung up")
        return False

    def _read_one(self):
        if self._file.readinto(self._one) != 1:
            raise OSError("serial device closed")
        return self._one[0]


def _set_raw(fd, baudrate):
    # termios is absent on some unix-port builds; a pty made raw by its
    # creator works without it.
    try:
        import termios
    except ImportError:
        return
    termios.setraw(fd)
    speed = getattr(termios, "B%d" % baudrate, None)
    if speed is not None:
        attrs = termios.tcgetattr(fd)
        attrs[4] = speed
        attrs[5] = speed
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


class PyserialPort:
    """CPython: pyserial (raw mode, 8N1; a pty works like a USB adapter)."""

    def __init__(self, device, baudrate, timeout_ms):
        import serial

        try:
            self._serial = serial.Serial(device, baudrate=baudrate, timeout=timeout_ms / 1000)
        except (serial.SerialException, ValueError) as exc:
            raise OSError("cannot open serial device %s: %s" % (device, exc))
        self.timeout_ms = timeout_ms
        self.frame_gap_ms = frame_gap_ms(baudrate)

    def write(self, data):
        self._serial.write(data)

    def read(self, n, timeout_ms=None):
        if timeout_ms is None:
            timeout_ms = self.timeout_ms
        self._serial.timeout = timeout_ms / 1000
        return bytes(self._serial.read(n))

    def reset_input(self):
        self._serial.reset_input_buffer()

    def close(self):
        self._serial.close()
