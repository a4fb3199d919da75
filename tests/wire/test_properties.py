"""Property-based tests (hypothesis) of the codec and the frame decoder.

Decoder bound, stated here and in docs/WIRE.md: between calls to feed(),
FrameDecoder holds at most buffer_bound = max_len + 3 + (max_len + 2) // 254
bytes (4115 for the default max_len of 4096), whatever it is fed.
"""
from __future__ import annotations

import cbor2
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import evwire
from evwire import cbor, framing
from evwire.errors import DecodeError

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

INT64 = st.integers(min_value=-(2**64), max_value=2**64 - 1)
SCALARS = (st.none() | st.booleans() | INT64 | st.floats() | st.text(max_size=40)
           | st.binary(max_size=40))
KEYS = st.text(max_size=30) | INT64
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=25,
)
MESSAGES = st.dictionaries(st.text(min_size=1, max_size=30), VALUES, min_size=1, max_size=8)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def bound_for(max_len: int) -> int:
    return max_len + 3 + (max_len + 2) // 254


@SETTINGS
@given(value=VALUES)
def test_portable_codec_equals_cbor2_canonical(value, mpv):
    assume(depth(value) <= cbor.MAX_DEPTH)
    encoded = cbor.dumps(value)
    assert encoded == cbor2.dumps(value, canonical=True)
    assert evwire.dumps(value) == encoded


@SETTINGS
@given(value=VALUES)
def test_values_round_trip_with_both_codecs(value, mpv):
    assume(depth(value) <= cbor.MAX_DEPTH)
    encoded = evwire.dumps(value)
    assert mpv.same(cbor.loads(encoded), value)
    assert mpv.same(evwire.loads(encoded), value)


@SETTINGS
@given(msg=MESSAGES)
def test_messages_round_trip_through_frames(msg, mpv):
    assume(depth(msg) <= cbor.MAX_DEPTH and len(evwire.dumps(msg)) <= framing.DEFAULT_MAX)
    got = evwire.FrameDecoder().feed(evwire.encode_frame(msg))
    assert len(got) == 1 and mpv.same(got[0], msg)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_portable_decoder_only_raises_decode_error(data, mpv):
    try:
        value = cbor.loads(data)
    except DecodeError:
        return
    # Whatever the portable codec accepts, cbor2 (CPython's path) reads alike.
    assert mpv.same(evwire.loads(data), value)


def _feed_in_chunks(decoder, stream: bytes, cuts: list[int]):
    messages = []
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    for start, stop in zip(points, points[1:]):
        messages += decoder.feed(stream[start:stop])
        assert decoder.buffered <= decoder.buffer_bound == bound_for(decoder.max_len)
    return messages


@pytest.mark.parametrize("codec", ["cbor2", "portable"])
@SETTINGS
@given(stream=st.binary(max_size=6000), cuts=st.lists(st.integers(0, 6000), max_size=20),
       max_len=st.sampled_from([16, 64, 255, 4096]))
def test_random_streams_never_raise_and_stay_bounded(codec, stream, cuts, max_len):
    with pytest.MonkeyPatch.context() as patch:
        if codec == "portable":  # the MicroPython decode path, on CPython
            patch.setattr(framing, "loads", cbor.loads)
        decoder = framing.FrameDecoder(max_len=max_len)
        _feed_in_chunks(decoder, stream, cuts)
    assert decoder.frames + decoder.dropped_frames <= stream.count(b"\x00") + 1
    assert decoder.dropped_bytes <= len(stream)


PIECES = st.one_of(
    st.binary(max_size=300).map(lambda b: ("garbage", b)),
    st.just(("zeros", b"\x00" * 3)),
    MESSAGES.map(lambda m: ("message", m)),
    MESSAGES.map(lambda m: ("truncated", m)),
)


@SETTINGS
@given(pieces=st.lists(PIECES, max_size=12), cuts=st.lists(st.integers(0, 10000), max_size=30))
def test_delimited_frames_among_garbage_are_all_recovered(pieces, cuts, mpv):
    stream = bytearray()
    expected = []
    for kind, item in pieces:
        if kind in ("garbage", "zeros"):
            # Noise can only spoil a frame if it forms a valid frame itself.
            assume(evwire.FrameDecoder().feed(b"\x00" + item + b"\x00") == [])
            stream += item
            continue
        assume(depth(item) <= cbor.MAX_DEPTH and len(evwire.dumps(item)) <= framing.DEFAULT_MAX)
        frame = evwire.encode_frame(item)
        if kind == "truncated":
            stream += frame[: len(frame) // 2]
        else:
            stream += frame
            expected.append(item)
    decoder = evwire.FrameDecoder()
    got = _feed_in_chunks(decoder, bytes(stream), cuts) + decoder.feed(b"\x00")
    assert len(got) == len(expected)
    for value, msg in zip(got, expected):
        assert mpv.same(value, msg)
    assert decoder.frames == len(expected)
