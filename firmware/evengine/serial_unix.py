# The serial adapter on the MicroPython unix port: the device file in raw
# mode, read through select.poll (see serialport.py for the interface every
# adapter has).
import select

from evengine.serialport import frame_gap_ms
from evwire.compat import const, ticks_diff, ticks_ms

_MAX_FRAME = const(256)  # the longest Modbus RTU frame


class UnixFilePort:
    """The device file, raw mode, select.poll.

    open() cannot pass O_NOCTTY here, so a micropython process that leads
    its own session makes the device its controlling terminal and is sent
    SIGHUP when the line hangs up (simulator gone, USB adapter pulled).
    Start it as a child inside another process's session (as
    `evcharge engine --runtime micropython` does), not under setsid."""

    def __init__(self, device, baudrate, timeout_ms):
        try:
            self._file = open(device, "r+b")
        except OSError as exc:
            raise OSError("cannot open serial device %s: %s" % (device, exc))
        _set_raw(self._file.fileno(), baudrate)
        self._poll = select.poll()
        self._poll.register(self._file, select.POLLIN)
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
            if events & select.POLLIN:
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
