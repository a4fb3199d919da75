# The serial adapter on CPython: pyserial (see serialport.py for the
# interface every adapter has). Never shipped to a board.
import serial

from evengine.serialport import frame_gap_ms


class PyserialPort:
    """Raw mode, 8N1; a pty works like a USB adapter."""

    def __init__(self, device, baudrate, timeout_ms):
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
