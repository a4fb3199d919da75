# The serial adapter on a board: machine.UART, with an optional RS-485
# driver-enable pin (see serialport.py for the interface every adapter has).
from evengine.serialport import UART_PREFIX, frame_gap_ms
from evwire.compat import sleep_ms, ticks_diff, ticks_ms


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
