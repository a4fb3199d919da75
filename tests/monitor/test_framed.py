"""The Monitor's frame decoder keeps payload bytes and behaves like evwire's on bad input."""
from __future__ import annotations

from evmonitor.framed import PayloadFrameDecoder
from evwire import FrameDecoder, dumps, encode_frame, make
from evwire import types as t


def data_msg(n: int) -> dict:
    return make(t.CHARGING_DATA, cp_id="CP1", session_id="S1", energy_consumed_kwh=n * 0.001,
                total_cost=0.01, charging_rate=7.4, timestamp=1700000000)


def test_payload_is_the_exact_cbor_of_the_frame():
    msg = data_msg(1)
    (got,) = PayloadFrameDecoder().feed(encode_frame(msg))
    assert got == msg
    assert got.payload == dumps(msg)


def test_split_feeds_garbage_and_bad_crc_match_evwire():
    frames = encode_frame(data_msg(1)) + b"junk\x00" + encode_frame(data_msg(2))
    corrupt = bytearray(encode_frame(data_msg(3)))
    corrupt[10] ^= 0x55
    stream = frames + bytes(corrupt) + encode_frame(data_msg(4))
    ours, theirs = PayloadFrameDecoder(), FrameDecoder()
    got_ours, got_theirs = [], []
    for i in range(0, len(stream), 7):  # awkward chunking, delimiters split anywhere
        got_ours += ours.feed(stream[i:i + 7])
        got_theirs += theirs.feed(stream[i:i + 7])
    assert [dict(m) for m in got_ours] == got_theirs
    assert [m["energy_consumed_kwh"] for m in got_ours] == [0.001, 0.002, 0.004]
    assert ours.dropped_frames == theirs.dropped_frames == 2


def test_an_endless_frame_is_dropped_without_holding_it():
    decoder = PayloadFrameDecoder(max_len=256)
    for _ in range(100):
        assert decoder.feed(b"\x01" * 1000) == []
        assert len(decoder._buf) <= decoder.buffer_bound
    assert decoder.dropped_frames == 1
    (msg,) = decoder.feed(b"\x00" + encode_frame(data_msg(5)))
    assert msg["energy_consumed_kwh"] == 0.005
