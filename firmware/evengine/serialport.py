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
#
# Each adapter is its own module (serial_uart, serial_unix, serial_pyserial)
# and only the one a device needs is imported: on a microcontroller the code
# of the other two would sit in RAM for nothing.
from evwire.compat import IS_MICROPYTHON

UART_PREFIX = "uart:"


def open_serial(device, baudrate=9600, timeout_ms=100):
    """Open a serial device: a path ("/dev/ttyUSB0", a pty or its link) or,
    on a board, "uart:ID[:TX:RX[:DE]]" (pin numbers; DE drives an RS-485
    transceiver's driver-enable pin around each write). Raises OSError or
    ValueError with a message naming the device."""
    if device.startswith(UART_PREFIX):
        from evengine.serial_uart import UartPort as Port
    elif IS_MICROPYTHON:
        from evengine.serial_unix import UnixFilePort as Port
    else:
        from evengine.serial_pyserial import PyserialPort as Port
    return Port(device, baudrate, timeout_ms)


def frame_gap_ms(baudrate):
    # Modbus over serial line, 2.5.1.1: 3.5 characters of 11 bits; above
    # 19200 baud the spec fixes it at 1.75 ms.
    if baudrate > 19200:
        return 2
    return (38500 + baudrate - 1) // baudrate


def __getattr__(name):
    # The adapters' names stay importable from here, loaded on first use.
    if name in ("UartPort", "parse_uart_spec"):
        from evengine import serial_uart as adapter
    elif name == "UnixFilePort":
        from evengine import serial_unix as adapter
    elif name == "PyserialPort":
        from evengine import serial_pyserial as adapter
    else:
        raise AttributeError("module 'evengine.serialport' has no attribute '%s'" % name)
    return getattr(adapter, name)
