# A small deterministic CBOR codec for MicroPython (no cbor2 there).
# It produces the bytes of cbor2.dumps(obj, canonical=True) for the subset
# the wire uses: maps (keys in canonical order, never dict order), arrays,
# text, bytes, integers within 64 bits, floats in their shortest exact form
# (half, single or double), true/false/null. The golden vectors in
# tests/vectors prove byte equality on both interpreters.
#
# Portability notes (each found by the vector tests on micropython):
# - struct '>e' is not used: MicroPython's half-float packer rounds some
#   subnormals wrongly and turns overflow into NaN, and some ports lack 'e'.
#   Half precision is derived from the float32 bits instead.
# - MicroPython's str(bytes, "utf-8") accepts overlong forms, surrogates and
#   code points past U+10FFFF; the decoder checks non-ASCII text itself so
#   both interpreters reject the same payloads.
# - isinstance(True, int) is False on MicroPython, True on CPython: bools are
#   tested first, by identity.
import math
import struct

from evwire.compat import IS_MICROPYTHON
from evwire.errors import DecodeError

MAX_DEPTH = 16  # nesting bound: a hostile payload cannot exhaust the stack

# Encoded text keys, reused across messages: the wire's field names repeat in
# every message, and sorting needs their encoding. Bounded so a peer sending
# random keys cannot grow it. Off on MicroPython: there each cached key holds
# about 60 bytes of RAM for good (the Engine sends some 35 distinct keys), to
# save microseconds on the few messages a second it encodes.
_KEY_CACHE_MAX = 0 if IS_MICROPYTHON else 256
_key_cache = {}


def _head(out, major, n):
    mt = major << 5
    if n < 24:
        out.append(mt | n)
    elif n < 0x100:
        out.append(mt | 24)
        out.append(n)
    elif n < 0x10000:
        out.append(mt | 25)
        out.extend(struct.pack(">H", n))
    elif n < 0x100000000:
        out.append(mt | 26)
        out.extend(struct.pack(">I", n))
    elif n < 0x10000000000000000:
        out.append(mt | 27)
        out.extend(struct.pack(">Q", n))
    else:
        raise ValueError("integer out of 64-bit range")


def _half_bits(single):
    """float32 bits -> half bits if the value is exactly a half, else None."""
    sign = (single >> 16) & 0x8000
    exp = (single >> 23) & 0xFF
    mant = single & 0x7FFFFF
    if exp == 0:
        # +-0 is a half; float32 subnormals are far below the half range.
        return sign if mant == 0 else None
    e = exp - 127
    if -14 <= e <= 15:
        if mant & 0x1FFF:
            return None
        return sign | ((e + 15) << 10) | (mant >> 13)
    if -24 <= e < -14:
        # Half subnormal: value = m * 2**-24, m = (1.mant) >> (-1 - e).
        full = mant | 0x800000
        shift = -1 - e
        if full & ((1 << shift) - 1):
            return None
        return sign | (full >> shift)
    return None


def _float(out, value):
    if value != value:  # NaN: cbor2 emits the canonical half quiet NaN
        out.extend(b"\xf9\x7e\x00")
        return
    if value == math.inf or value == -math.inf:
        out.extend(b"\xf9\x7c\x00" if value > 0 else b"\xf9\xfc\x00")
        return
    try:
        packed = struct.pack(">f", value)
        exact = struct.unpack(">f", packed)[0] == value
    except OverflowError:  # CPython; MicroPython packs inf, caught by `exact`
        exact = False
    if not exact:
        out.append(0xFB)
        out.extend(struct.pack(">d", value))
        return
    half = _half_bits(struct.unpack(">I", packed)[0])
    if half is None:
        out.append(0xFA)
        out.extend(packed)
    else:
        out.append(0xF9)
        out.append(half >> 8)
        out.append(half & 0xFF)


def _half_value(bits):
    sign = -1.0 if bits & 0x8000 else 1.0
    exp = (bits >> 10) & 0x1F
    mant = bits & 0x3FF
    if exp == 0:
        return sign * math.ldexp(mant, -24)
    if exp == 0x1F:
        return sign * math.inf if mant == 0 else math.nan
    return sign * math.ldexp(mant | 0x400, exp - 25)


def _key_bytes(key, depth):
    cached = _key_cache.get(key) if isinstance(key, str) else None
    if cached is not None:
        return cached
    kb = bytearray()
    _encode(kb, key, depth)
    kb = bytes(kb)
    if isinstance(key, str) and len(_key_cache) < _KEY_CACHE_MAX:
        _key_cache[key] = kb
    return kb


def _encode(out, obj, depth):
    if depth > MAX_DEPTH:
        raise ValueError("nesting deeper than %d" % MAX_DEPTH)
    if obj is None:
        out.append(0xF6)
    elif obj is True:
        out.append(0xF5)
    elif obj is False:
        out.append(0xF4)
    elif isinstance(obj, int):
        if obj >= 0:
            _head(out, 0, obj)
        else:
            _head(out, 1, -1 - obj)
    elif isinstance(obj, float):
        _float(out, obj)
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        _head(out, 3, len(data))
        out.extend(data)
    elif isinstance(obj, (bytes, bytearray)):
        _head(out, 2, len(obj))
        out.extend(obj)
    elif isinstance(obj, (list, tuple)):
        _head(out, 4, len(obj))
        for item in obj:
            _encode(out, item, depth + 1)
    elif isinstance(obj, dict):
        # Canonical order: by encoded key, shorter first, then bytewise.
        # Two distinct keys never encode alike, so the sort never compares
        # the keys themselves.
        pairs = []
        for key in obj:
            kb = _key_bytes(key, depth + 1)
            pairs.append((len(kb), kb, key))
        pairs.sort()
        _head(out, 5, len(pairs))
        for _n, kb, key in pairs:
            out.extend(kb)
            _encode(out, obj[key], depth + 1)
    else:
        raise ValueError("cannot encode %s" % type(obj).__name__)


def dumps(obj):
    out = bytearray()
    _encode(out, obj, 0)
    return bytes(out)


def check_utf8(raw):
    """Raise DecodeError unless raw is well-formed UTF-8 (RFC 3629)."""
    i = 0
    n = len(raw)
    while i < n:
        b = raw[i]
        if b < 0x80:
            i += 1
            continue
        # (continuation count, allowed range of the second byte)
        if 0xC2 <= b <= 0xDF:
            need, lo, hi = 1, 0x80, 0xBF
        elif b == 0xE0:
            need, lo, hi = 2, 0xA0, 0xBF  # no overlong 3-byte forms
        elif b == 0xED:
            need, lo, hi = 2, 0x80, 0x9F  # no UTF-16 surrogates
        elif 0xE1 <= b <= 0xEF:
            need, lo, hi = 2, 0x80, 0xBF
        elif b == 0xF0:
            need, lo, hi = 3, 0x90, 0xBF  # no overlong 4-byte forms
        elif 0xF1 <= b <= 0xF3:
            need, lo, hi = 3, 0x80, 0xBF
        elif b == 0xF4:
            need, lo, hi = 3, 0x80, 0x8F  # nothing past U+10FFFF
        else:
            raise DecodeError("invalid UTF-8 in CBOR text")
        if i + need >= n:  # the sequence runs past the end
            raise DecodeError("invalid UTF-8 in CBOR text")
        if not lo <= raw[i + 1] <= hi:
            raise DecodeError("invalid UTF-8 in CBOR text")
        for j in range(i + 2, i + need + 1):
            if not 0x80 <= raw[j] <= 0xBF:
                raise DecodeError("invalid UTF-8 in CBOR text")
        i += need + 1


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        end = self.pos + n
        if end > len(self.data):
            raise DecodeError("truncated CBOR")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def byte(self):
        if self.pos >= len(self.data):
            raise DecodeError("truncated CBOR")
        b = self.data[self.pos]
        self.pos += 1
        return b


def _length(r, info):
    if info < 24:
        return info
    if info == 24:
        return r.byte()
    if info == 25:
        return struct.unpack(">H", r.take(2))[0]
    if info == 26:
        return struct.unpack(">I", r.take(4))[0]
    if info == 27:
        return struct.unpack(">Q", r.take(8))[0]
    raise DecodeError("unsupported CBOR length (indefinite or reserved)")


def _text(raw):
    try:
        text = str(raw, "utf-8")
    except UnicodeError:
        raise DecodeError("invalid UTF-8 in CBOR text")
    if len(text) != len(raw):  # non-ASCII: check what MicroPython lets through
        check_utf8(raw)
    return text


def _decode(r, depth):
    if depth > MAX_DEPTH:
        raise DecodeError("CBOR nested deeper than %d" % MAX_DEPTH)
    initial = r.byte()
    major = initial >> 5
    info = initial & 0x1F
    if major == 7:
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 25:
            return _half_value(struct.unpack(">H", r.take(2))[0])
        if info == 26:
            return struct.unpack(">f", r.take(4))[0]
        if info == 27:
            return struct.unpack(">d", r.take(8))[0]
        raise DecodeError("unsupported CBOR simple value %d" % info)
    n = _length(r, info)
    if major == 0:
        return n
    if major == 1:
        return -1 - n
    if major == 2:
        return bytes(r.take(n))
    if major == 3:
        return _text(r.take(n))
    if major == 4:
        if n > len(r.data) - r.pos:  # each item takes a byte at least
            raise DecodeError("truncated CBOR")
        return [_decode(r, depth + 1) for _ in range(n)]
    if major == 5:
        if n > len(r.data) - r.pos:
            raise DecodeError("truncated CBOR")
        out = {}
        for _ in range(n):
            key = _decode(r, depth + 1)
            # Text (the wire's), integer or byte keys only: float keys would
            # merge NaNs, containers are unhashable.
            if type(key) not in (str, int, bytes):
                raise DecodeError("unsupported CBOR map key")
            out[key] = _decode(r, depth + 1)
        return out
    raise DecodeError("unsupported CBOR tag")


def loads(data):
    r = _Reader(data)
    value = _decode(r, 0)
    if r.pos != len(data):
        raise DecodeError("extra bytes after CBOR value")
    return value
