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

    def ticks_ms():
        return time.ticks_ms()

    def ticks_diff(a, b):
        return time.ticks_diff(a, b)

    def sleep_ms(ms):
        time.sleep_ms(ms)

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
# MicroPython has no crc_hqx, so evwire.framing falls back to a table.
crc_hqx = getattr(binascii, "crc_hqx", None)

# cbor2 (C-accelerated, CPython only) or None: evwire.framing then uses the
# portable evwire.cbor codec, which produces the same bytes.
try:
    import cbor2
except ImportError:
    cbor2 = None


import hashlib

_BLOCK = 64


def hmac_sha256(key, data):
    """HMAC-SHA256 (RFC 2104) from hashlib alone: MicroPython has no hmac."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + b"\x00" * (_BLOCK - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(data)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def stderr_write(text):
    try:
        sys.stderr.write(text)
    except (AttributeError, OSError):
        print(text, end="")


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
