# A small deterministic CBOR codec for MicroPython (no cbor2 there).
# It produces the bytes of cbor2.dumps(obj, canonical=True) for the subset
# the wire uses: maps (keys in canonical order, never dict order), arrays,
# text, bytes, integers within 64 bits, floats in their shortest exact form
# (half, single or double), true/false/null. The golden vectors in
# tests/vectors prove byte equality on both interpreters.
import struct

from evwire.errors import DecodeError

MAX_DEPTH = 16  # nesting bound: a hostile payload cannot exhaust the stack


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


def _float(out, value):
    if value != value:  # NaN: canonical half-precision quiet NaN
        out.extend(b"\xf9\x7e\x00")
        return
    if value in (float("inf"), float("-inf")):
        out.extend(b"\xf9\x7c\x00" if value > 0 else b"\xf9\xfc\x00")
        return
    for code, fmt in ((0xF9, ">e"), (0xFA, ">f")):
        try:
            packed = struct.pack(fmt, value)
        except (OverflowError, ValueError):
            continue
        if struct.unpack(fmt, packed)[0] == value:
            out.append(code)
            out.extend(packed)
            return
    out.append(0xFB)
    out.extend(struct.pack(">d", value))


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
        pairs = []
        for key in obj:
            kb = bytearray()
            _encode(kb, key, depth + 1)
            pairs.append((len(kb), bytes(kb), key))
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
            return struct.unpack(">e", r.take(2))[0]
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
        try:
            return str(r.take(n), "utf-8")
        except UnicodeError:
            raise DecodeError("invalid UTF-8 in CBOR text")
    if major == 4:
        if n > len(r.data) - r.pos:
            raise DecodeError("truncated CBOR")
        return [_decode(r, depth + 1) for _ in range(n)]
    if major == 5:
        if n > len(r.data) - r.pos:
            raise DecodeError("truncated CBOR")
        out = {}
        for _ in range(n):
            key = _decode(r, depth + 1)
            if isinstance(key, (list, dict)):
                raise DecodeError("unhashable CBOR map key")
            out[key] = _decode(r, depth + 1)
        return out
    raise DecodeError("unsupported CBOR tag")


def loads(data):
    r = _Reader(data)
    value = _decode(r, 0)
    if r.pos != len(data):
        raise DecodeError("extra bytes after CBOR value")
    return value
