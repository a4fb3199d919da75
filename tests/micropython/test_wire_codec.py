# The portable CBOR codec's interpreter-sensitive corners, on both
# interpreters (also run under CPython by tests/wire/test_portable_suite.py):
# half floats, UTF-8 strictness, 64-bit integers, hostile input.
import struct

from mp_vectors import raises, same

import evwire
from evwire import cbor
from evwire.errors import DecodeError


def _half_value(bits):
    return cbor.loads(bytes((0xF9, bits >> 8, bits & 0xFF)))


def test_every_half_float_encodes_back_to_its_bits():
    # MicroPython's struct '>e' rounds 1024 of these wrongly; the codec must not.
    for bits in range(0x10000):
        value = _half_value(bits)
        if value != value:
            continue  # NaN payloads all encode as the canonical 0x7e00
        encoded = cbor.dumps(value)
        if encoded != bytes((0xF9, bits >> 8, bits & 0xFF)):
            raise AssertionError("half %04x -> %r -> %s" % (bits, value, encoded))


def test_half_decoding_special_values():
    assert _half_value(0x7C00) == float("inf")
    assert _half_value(0xFC00) == float("-inf")
    nan = _half_value(0x7E00)
    assert nan != nan
    assert same(_half_value(0x8000), -0.0)
    assert _half_value(0x0001) == 2.0 ** -24
    assert _half_value(0x7BFF) == 65504.0


def test_float_widths():
    cases = (
        (1.5, "f93e00"),
        (65504.0, "f97bff"),
        (65520.0, "fa477ff000"),  # struct '>e' overflows here
        (100000.0, "fa47c35000"),  # MicroPython's '>e' packs this as NaN
        (1e300, "fb7e37e43c8800759c"),
        (0.1, "fb3fb999999999999a"),
        (-0.0, "f98000"),
        (float("nan"), "f97e00"),
        (1e-40, "fb37a16c262777579c"),  # in float32 range, not exact
    )
    for value, hexed in cases:
        assert cbor.dumps(value) == bytes.fromhex(hexed), value


def test_float32_subnormals_are_single():
    smallest = struct.unpack(">f", b"\x00\x00\x00\x01")[0]
    assert cbor.dumps(smallest) == b"\xfa\x00\x00\x00\x01"
    assert same(cbor.loads(b"\xfa\x00\x00\x00\x01"), smallest)


def test_sixty_four_bit_integers():
    assert cbor.dumps(2 ** 64 - 1) == b"\x1b" + b"\xff" * 8
    assert cbor.dumps(-(2 ** 64)) == b"\x3b" + b"\xff" * 8
    assert cbor.loads(b"\x3b" + b"\xff" * 8) == -(2 ** 64)
    assert cbor.loads(b"\x1b\x80" + bytes(7)) == 2 ** 63
    raises(ValueError, cbor.dumps, 2 ** 64)
    raises(ValueError, cbor.dumps, -(2 ** 64) - 1)


def test_bools_are_not_integers():
    assert cbor.dumps(True) == b"\xf5" and cbor.dumps(False) == b"\xf4"
    assert cbor.dumps([1, True, 0, False]) == b"\x84\x01\xf5\x00\xf4"
    assert same(cbor.loads(b"\xf5"), True)


def test_invalid_utf8_is_rejected():
    # Truncated, stray continuation, overlong, surrogate, past U+10FFFF:
    # CPython refuses all of them; MicroPython's str() lets some through.
    for raw in (b"\xc3", b"\x80", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\xaf",
                b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80",
                b"a\xe2\x82", b"\xf0\x9f\x98"):
        payload = bytes((0x60 + len(raw),)) + raw
        err = raises(DecodeError, cbor.loads, payload)
        assert "UTF-8" in str(err), raw
        raises(DecodeError, evwire.loads, payload)


def test_valid_utf8_edges_are_accepted():
    for text in ("\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff",
                 "\U00010000", "\U0010ffff", "a\u00e9\u4e2d\U0001f600z"):
        raw = text.encode("utf-8")
        assert cbor.loads(cbor.dumps(text)) == text
        cbor.check_utf8(raw)


def test_malformed_input_raises_decode_error():
    for payload in (
        b"",  # nothing
        b"\x18",  # length byte missing
        b"\x82\x01",  # array of 2 with one item
        b"\xa1\x61a",  # map key without value
        b"\x5a\xff\xff\xff\xff",  # bytes longer than the payload
        b"\x9b" + b"\xff" * 8,  # absurd array length
        b"\x9f\x01\xff",  # indefinite length
        b"\xc2\x41\x01",  # tag (bignum)
        b"\xf7",  # undefined
        b"\x1c",  # reserved additional info
        b"\x01\x02",  # trailing bytes
        b"\xa1\x80\x01",  # array as map key
        b"\xa1\xf9\x7e\x00\x01",  # float (NaN) as map key
        b"\xa1\xf5\x01",  # bool as map key
    ):
        raises(DecodeError, cbor.loads, payload)


def test_nesting_is_bounded():
    deep = b"\x81" * (cbor.MAX_DEPTH + 1) + b"\x01"
    raises(DecodeError, cbor.loads, deep)
    assert cbor.loads(b"\x81" * cbor.MAX_DEPTH + b"\x01") is not None
    value = 1
    for _ in range(cbor.MAX_DEPTH + 1):
        value = [value]
    raises(ValueError, cbor.dumps, value)


def test_unencodable_values_raise_value_error():
    for value in (object(), {"k": object()}):
        raises(ValueError, cbor.dumps, value)
        raises(ValueError, evwire.dumps, value)
    raises(ValueError, cbor.dumps, {1, 2})  # (cbor2 would emit a set tag)


def test_tuple_and_bytearray_encode_as_array_and_bytes():
    assert cbor.dumps((1, 2)) == cbor.dumps([1, 2]) == b"\x82\x01\x02"
    assert cbor.dumps(bytearray(b"ab")) == cbor.dumps(b"ab") == b"\x42ab"


def test_map_key_order_is_canonical():
    # Shorter encoded key first, then bytewise: "b" < "aa" < "bb"; 1 < "a".
    expected = b"\xa4\x01\x01\x61b\x02\x62aa\x03\x62bb\x04"
    assert cbor.dumps({"bb": 4, "aa": 3, 1: 1, "b": 2}) == expected
    assert cbor.dumps({"b": 2, 1: 1, "bb": 4, "aa": 3}) == expected


def test_key_cache_stays_bounded():
    for i in range(3 * cbor._KEY_CACHE_MAX):
        cbor.dumps({"key-%d" % i: i})
    assert len(cbor._key_cache) <= cbor._KEY_CACHE_MAX
    assert cbor.dumps({"key-999": 1}) == b"\xa1\x67key-999\x01"
