"""The portable codec against cbor2 (CPython only): every half float, float32
and double neighbours at every width boundary, the CRC fast path, and the
CPython loads wrapper's strictness."""
from __future__ import annotations

import binascii
import math
import random
import struct

import cbor2
import pytest

import evwire
from evwire import cbor
from evwire.errors import DecodeError
from evwire.framing import crc16_ccitt_false, crc16_portable


def canonical(value) -> bytes:
    return cbor2.dumps(value, canonical=True)


def test_every_half_float_matches_cbor2():
    for bits in range(0x10000):
        value = struct.unpack(">e", bits.to_bytes(2, "big"))[0]
        assert cbor.dumps(value) == canonical(value), hex(bits)


def test_random_float32_values_and_neighbours_match_cbor2():
    rng = random.Random(20240601)
    for _ in range(3000):
        value = struct.unpack(">f", rng.getrandbits(32).to_bytes(4, "big"))[0]
        for candidate in (value, math.nextafter(value, math.inf),
                          math.nextafter(value, -math.inf)):
            assert cbor.dumps(candidate) == canonical(candidate), candidate.hex()


@pytest.mark.parametrize("edge", [
    65504.0, 65520.0, 6.103515625e-05, 6.097555160522461e-05, 5.960464477539063e-08,
    3.4028234663852886e38, 1.1754943508222875e-38, 1.401298464324817e-45,
    1.7976931348623157e308, 5e-324, 1.0, 0.0, 2.0**-24, 2.0**15, 2.0**16,
])
def test_width_boundaries_and_their_neighbours(edge):
    for sign in (1.0, -1.0):
        value = sign * edge
        for candidate in (value, math.nextafter(value, math.inf),
                          math.nextafter(value, -math.inf)):
            assert cbor.dumps(candidate) == canonical(candidate), candidate.hex()
            assert cbor.loads(cbor.dumps(candidate)).hex() == candidate.hex()


def test_crc_fast_path_equals_the_table():
    rng = random.Random(5)
    for n in (0, 1, 2, 255, 4098):
        data = rng.randbytes(n)
        assert crc16_portable(data) == crc16_ccitt_false(data) == binascii.crc_hqx(data, 0xFFFF)


@pytest.mark.parametrize("payload", [b"\x01\x02", b"\xa0\xa0", b"\xa1\x61a\x01\x00"])
def test_cpython_loads_rejects_trailing_bytes(payload):
    with pytest.raises(DecodeError, match="extra bytes after CBOR value"):
        evwire.loads(payload)
    with pytest.raises(DecodeError, match="extra bytes after CBOR value"):
        cbor.loads(payload)


@pytest.mark.parametrize("payload", [b"", b"\xa1\x61", b"\x62\xc3\x28", b"\x1c", b"\xff"])
def test_cpython_loads_raises_one_error_class(payload):
    with pytest.raises(DecodeError):
        evwire.loads(payload)


def test_cpython_dumps_raises_value_error_like_the_portable_codec():
    with pytest.raises(ValueError, match="cannot encode"):
        evwire.dumps({"when": object()})
    with pytest.raises(ValueError, match="cannot encode object"):
        cbor.dumps({"when": object()})
