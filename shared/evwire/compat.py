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
