"""evwire on CPython: FrameDecoder.feed, loads (cbor2 against the portable codec
the Engine runs), validate."""
from __future__ import annotations

import random
import zlib
from pathlib import Path

import gen
from fuzzlib import Finding, Run, Target

from evwire import DecodeError, FrameDecoder, ValidationError, loads, validate
from evwire import cbor as portable

# What a decoded message may hold: the JSON-like kinds of the catalogue.
PLAIN = (dict, list, str, int, float, bool, bytes, type(None))


def _pieces(data: bytes) -> list[bytes]:
    """The same stream cut at points derived from the input (reproducible)."""
    rng = random.Random(zlib.crc32(data))
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(1, 8)))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def _feed_setup(_workdir: Path) -> Run:
    def run(data: bytes) -> None:
        with_payload = bool(data) and data[-1] & 1 == 1
        whole = FrameDecoder(with_payload=with_payload)
        expected = whole.feed(data)
        split = FrameDecoder(with_payload=with_payload)
        got = []
        for piece in _pieces(data):
            got += split.feed(piece)
            if split.buffered > split.buffer_bound:
                raise Finding(f"buffered {split.buffered} > bound {split.buffer_bound}")
        if repr(got) != repr(expected):
            raise Finding("cutting the stream changed what it decodes to")
        for item in got:
            msg = item[0] if with_payload else item
            if not isinstance(msg, dict):
                raise Finding(f"feed() returned a {type(msg).__name__}, not a map")
            if with_payload and repr(loads(item[1])) != repr(msg):
                raise Finding("payload bytes do not decode to the message")
    return run


def _plain(value: object) -> bool:
    """Whether a decoded value holds only the wire's kinds, with text/int/bytes keys."""
    if isinstance(value, dict):
        return all(type(k) in (str, int, bytes) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, PLAIN)


def _loads_setup(_workdir: Path) -> Run:
    def run(data: bytes) -> None:
        try:
            fast = ("ok", repr(loads(data)))
        except DecodeError:
            fast = ("DecodeError", "")
        try:
            mine = ("ok", repr(portable.loads(data)))
        except DecodeError:
            mine = ("DecodeError", "")
        if fast == mine:
            return
        if fast[0] == "ok" and mine[0] == "DecodeError" and not _plain(loads(data)):
            return  # simple values, float keys: cbor2 lets them by, validate() refuses them
        raise Finding(f"cbor2 and the portable codec disagree: {fast} vs {mine}")
    return run


def _loads_input(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.05:  # nesting around the codecs' depth bound
        depth = rng.randint(12, 20)
        return bytes(rng.choice((0x81, 0xA1)) for _ in range(depth)).replace(
            b"\xa1", b"\xa1\x61k") + rng.choice((b"\x00", b"\x80", b"\xa0", b"\xf6"))
    if pick < 0.6:
        return gen.mutate(rng, gen.payload(rng))
    if pick < 0.8:
        return gen.payload(rng)
    return rng.randbytes(rng.randint(0, 40))


def _validate_setup(_workdir: Path) -> Run:
    def run(data: bytes) -> None:
        try:
            msg = loads(data)
        except DecodeError:
            return  # e.g. an integer beyond 64 bits: refused before validate
        try:
            validate(msg)
        except ValidationError as exc:
            if not str(exc):
                raise Finding("ValidationError without a text") from None
    return run


TARGETS = [
    Target("wire.feed", gen.stream, _feed_setup,
           "FrameDecoder.feed: streams of good, damaged and over-long frames, cut anywhere"),
    Target("wire.loads", _loads_input, _loads_setup,
           "loads: cbor2 (CPython) and the portable codec (the Engine's) must agree"),
    Target("wire.validate", gen.random_map, _validate_setup,
           "validate: catalogue-shaped and random maps"),
]
