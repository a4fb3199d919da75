# The one place where CPython and MicroPython differ. Everything else in
# evwire (and the Engine) imports these names instead of probing itself.
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"

try:
    from micropython import const  # noqa: F401
except ImportError:  # CPython

    def const(value):
        return value


import os

urandom = os.urandom

import time

if IS_MICROPYTHON:
    # The built-ins themselves: no wrapper functions to keep in RAM.
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    sleep_ms = time.sleep_ms

else:

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        time.sleep(ms / 1000)


def unix_time():
    """Integer Unix seconds (the catalogue's `timestamp`)."""
    return int(time.time())


def unix_time_ms():
    return int(time.time() * 1000)


import binascii


def hexlify(data):
    return binascii.hexlify(data).decode()


# CRC-16/CCITT-FALSE is binascii.crc_hqx(data, 0xFFFF) on CPython (C speed);
# MicroPython has no crc_hqx, so evwire.framing falls back to a portable loop.
crc_hqx = getattr(binascii, "crc_hqx", None)

# cbor2 (C-accelerated, CPython only) or None: evwire.framing then uses the
# portable evwire.cbor codec, which produces the same bytes.
try:
    import cbor2
except ImportError:
    cbor2 = None


def __getattr__(name):
    # hmac_sha256 (MicroPython has no hmac) lives with its one user,
    # evwire.auth, which the Engine never loads; still importable from here.
    if name == "hmac_sha256":
        from evwire.auth import hmac_sha256

        return hmac_sha256
    raise AttributeError("module 'evwire.compat' has no attribute '%s'" % name)


def stderr_write(text):
    try:
        sys.stderr.write(text)
    except (AttributeError, OSError):
        # No stderr (a board) or a closed pipe: stdout, else nowhere. A log line
        # never raises into its caller (a signal handler, a shutdown path).
        try:
            print(text, end="")
        except (AttributeError, OSError, ValueError):
            pass


def unix_socket_address(path):
    """The address connect() wants for an AF_UNIX socket at `path`.

    CPython takes the path; the MicroPython unix port wants a packed
    sockaddr_un (family, native byte order, then the NUL-terminated path).
    """
    if not IS_MICROPYTHON:
        return path
    import socket
    import struct

    return struct.pack("H", socket.AF_UNIX) + path.encode() + b"\x00"


def stdin_bytes():
    """A binary stdin whose read(1) never holds back bytes poll() cannot see
    (CPython's buffered reader would; its raw FileIO does not)."""
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    return getattr(stream, "raw", stream)
