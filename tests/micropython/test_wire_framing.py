# Framing on both interpreters (this file also runs under CPython through
# tests/wire/test_portable_suite.py): 0x00 | COBS(payload | CRC) | 0x00.
from mp_vectors import pseudo_random_bytes, raises

import evwire
from evwire.errors import DecodeError
from evwire.framing import (
    cobs_decode,
    cobs_encode,
    crc16_ccitt_false,
    crc16_portable,
    frame_bound,
)


def _msg(n, **extra):
    msg = {"type": "charging_data", "message_id": "00000000-0000-4000-8000-%012d" % n,
           "cp_id": "CP1", "session_id": "S1", "energy_consumed_kwh": 0.001 * n,
           "total_cost": 0.25, "charging_rate": 11.0, "timestamp": 1700000000 + n}
    for key in extra:
        msg[key] = extra[key]
    return msg


def _frame_with_crc(payload, crc):
    return b"\x00" + cobs_encode(payload + bytes((crc >> 8, crc & 0xFF))) + b"\x00"


def _message_of_payload_size(size):
    """A map whose CBOR payload is exactly `size` bytes (text padding, no zeros)."""
    base = len(evwire.dumps({"type": "x", "message_id": "m", "pad": ""}))
    for header in (0, 1, 2):
        pad = size - base - header
        if pad < 0:
            continue
        msg = {"type": "x", "message_id": "m", "pad": "p" * pad}
        if len(evwire.dumps(msg)) == size:
            return msg
    raise AssertionError("no padding gives %d bytes" % size)


def test_round_trip():
    dec = evwire.FrameDecoder()
    msg = _msg(1)
    assert dec.feed(evwire.encode_frame(msg)) == [msg]
    assert (dec.frames, dec.dropped_frames, dec.dropped_bytes, dec.buffered) == (1, 0, 0, 0)


def test_frame_never_contains_zero_inside():
    frame = evwire.encode_frame(_msg(2, blob=bytes(300)))
    assert frame[0] == 0 and frame[-1] == 0
    assert frame.find(b"\x00", 1) == len(frame) - 1


def test_split_at_every_byte_boundary():
    msgs = [_msg(1), _msg(2, blob=b"\x00\x00")]
    stream = b"".join(evwire.encode_frame(m) for m in msgs)
    for cut in range(len(stream) + 1):
        dec = evwire.FrameDecoder()
        got = dec.feed(stream[:cut]) + dec.feed(stream[cut:])
        assert got == msgs, cut
        assert dec.dropped_frames == 0 and dec.dropped_bytes == 0


def test_byte_by_byte():
    msg = _msg(3)
    dec = evwire.FrameDecoder()
    got = []
    for b in evwire.encode_frame(msg):
        got += dec.feed(bytes((b,)))
    assert got == [msg]


def test_two_frames_in_one_read():
    dec = evwire.FrameDecoder()
    assert dec.feed(evwire.encode_frame(_msg(1)) + evwire.encode_frame(_msg(2))) == [
        _msg(1), _msg(2)]


def test_garbage_before_between_and_after():
    garbage = b"\x13\x37noise\xff"
    f1 = evwire.encode_frame(_msg(1))
    f2 = evwire.encode_frame(_msg(2))
    dec = evwire.FrameDecoder()
    assert dec.feed(garbage + f1 + garbage + f2 + garbage) == [_msg(1), _msg(2)]
    # Before and between: each run is a bad frame. After: still waiting for 0x00.
    assert dec.dropped_frames == 2 and dec.dropped_bytes == 2 * len(garbage)
    assert dec.buffered == len(garbage)
    assert dec.feed(b"\x00") == []
    assert dec.dropped_frames == 3 and dec.dropped_bytes == 3 * len(garbage)
    assert dec.buffered == 0


def test_noise_with_zeros_around_frames():
    noise = pseudo_random_bytes(2000)
    msgs = [_msg(i) for i in range(5)]
    stream = bytearray()
    for i, m in enumerate(msgs):
        stream += noise[i * 300:(i + 1) * 300] + evwire.encode_frame(m)
    stream += noise[1500:]
    dec = evwire.FrameDecoder()
    got = []
    for start in range(0, len(stream), 97):
        got += dec.feed(bytes(stream[start:start + 97]))
    assert got == msgs
    assert dec.frames == 5 and dec.dropped_frames > 0


def test_corrupted_crc_is_dropped_and_next_decodes():
    payload = evwire.dumps(_msg(1))
    good = crc16_ccitt_false(payload)
    dec = evwire.FrameDecoder()
    bad = _frame_with_crc(payload, good ^ 0x0100)
    assert dec.feed(bad + evwire.encode_frame(_msg(2))) == [_msg(2)]
    assert dec.dropped_frames == 1 and dec.last_error == "CRC mismatch"
    assert dec.dropped_bytes == len(bad) - 2  # delimiters are not counted


def test_flipped_payload_bit_is_dropped():
    frame = bytearray(evwire.encode_frame(_msg(1)))
    frame[20] ^= 0x01 if frame[20] != 0x01 else 0x02  # never creates a 0x00
    dec = evwire.FrameDecoder()
    assert dec.feed(bytes(frame)) == []
    assert dec.dropped_frames == 1


def test_invalid_cobs_is_dropped():
    dec = evwire.FrameDecoder()
    # Code 0x09 promises 8 data bytes, only 3 follow.
    assert dec.feed(b"\x00\x09abc\x00" + evwire.encode_frame(_msg(1))) == [_msg(1)]
    assert dec.dropped_frames == 1 and dec.dropped_bytes == 4
    assert "COBS" in dec.last_error
    raises(DecodeError, cobs_decode, b"\x03a\x00b")


def test_short_and_non_map_frames_are_dropped():
    dec = evwire.FrameDecoder()
    crc = crc16_ccitt_false(b"\x01")
    not_a_map = _frame_with_crc(b"\x01", crc)  # CBOR 1: valid, but not a message
    assert dec.feed(b"\x00\x02\x01\x00" + not_a_map) == []
    assert dec.dropped_frames == 2
    assert dec.last_error == "payload is not a CBOR map"


def test_bad_cbor_with_good_crc_is_dropped():
    for payload in (b"\xa1\x61", b"\xa0\x00", b"\xff", b"\xa1\x62\xc3\x28\x01"):
        dec = evwire.FrameDecoder()
        assert dec.feed(_frame_with_crc(payload, crc16_ccitt_false(payload))) == []
        assert dec.dropped_frames == 1, payload


def test_truncated_frame_followed_by_good_one():
    f1 = evwire.encode_frame(_msg(1))
    f2 = evwire.encode_frame(_msg(2))
    dec = evwire.FrameDecoder()
    assert dec.feed(f1[:-10]) == []
    assert dec.feed(f2) == [_msg(2)]
    assert dec.dropped_frames == 1 and dec.frames == 1


def test_empty_frames_are_ignored():
    dec = evwire.FrameDecoder()
    assert dec.feed(b"\x00\x00\x00" + evwire.encode_frame(_msg(1)) + b"\x00\x00") == [_msg(1)]
    assert dec.dropped_frames == 0 and dec.dropped_bytes == 0


def test_payload_sizes_at_cobs_block_edges():
    # Payload + CRC of 255/256/257 bytes: one byte short of, at and past a
    # full 254-byte block (and the same near the second block and at MAX).
    for size in (252, 253, 254, 255, 506, 507, 508, 4096):
        msg = _message_of_payload_size(size)
        frame = evwire.encode_frame(msg)
        assert len(evwire.dumps(msg)) == size
        dec = evwire.FrameDecoder()
        assert dec.feed(frame) == [msg], size
        # The same frame split inside its first 0xFF block decodes too.
        dec = evwire.FrameDecoder()
        assert dec.feed(frame[:200]) + dec.feed(frame[200:]) == [msg], size


def test_cobs_round_trip_over_lengths_and_zero_patterns():
    for n in range(0, 600, 1):
        plain = bytes((i % 255) + 1 for i in range(n))  # no zeros
        assert cobs_decode(cobs_encode(plain)) == plain, n
        assert cobs_encode(plain).find(b"\x00") < 0
        if n:
            zeros = bytearray(plain)
            zeros[n // 2] = 0
            zeros[-1] = 0
            assert cobs_decode(cobs_encode(bytes(zeros))) == bytes(zeros), n
    assert cobs_encode(b"") == b"\x01"
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(bytes(range(1, 255))) == b"\xff" + bytes(range(1, 255))


def test_cobs_trailing_empty_block_is_accepted():
    # Some encoders end a final full block with 0x01; we do not, but accept it.
    plain = bytes(range(1, 255))
    assert cobs_decode(b"\xff" + plain + b"\x01") == plain


def test_payload_at_max_accepted_and_over_max_dropped():
    at_max = _message_of_payload_size(4096)
    over = _message_of_payload_size(4097)
    dec = evwire.FrameDecoder()
    got = dec.feed(evwire.encode_frame(over) + evwire.encode_frame(at_max))
    assert got == [at_max]
    assert dec.dropped_frames == 1 and dec.frames == 1


def test_configurable_max():
    small = _message_of_payload_size(100)
    bigger = _message_of_payload_size(101)
    dec = evwire.FrameDecoder(max_len=100)
    assert dec.feed(evwire.encode_frame(bigger) + evwire.encode_frame(small)) == [small]
    assert dec.dropped_frames == 1
    assert dec.buffer_bound == frame_bound(100) == 100 + 3 + 102 // 254
    raises(ValueError, evwire.FrameDecoder, 0)


def test_body_exactly_at_buffer_bound_decodes():
    # 4096 payload bytes and a CRC without zeros stuff to the longest body.
    msg = _message_of_payload_size(4096)
    for last in "abcdefghijklmnop":
        msg["pad"] = msg["pad"][:-1] + last
        crc = crc16_ccitt_false(evwire.dumps(msg))
        if crc >> 8 and crc & 0xFF:
            break
    frame = evwire.encode_frame(msg)
    assert len(frame) - 2 == evwire.FrameDecoder().buffer_bound == 4115
    dec = evwire.FrameDecoder()
    got = []
    for start in range(0, len(frame), 1000):
        got += dec.feed(frame[start:start + 1000])
        assert dec.buffered <= dec.buffer_bound
    assert got == [msg]
    assert dec.dropped_frames == 0


def test_long_run_without_delimiter_stays_bounded():
    dec = evwire.FrameDecoder()
    chunk = b"\x55" * 1000
    for _ in range(100):
        assert dec.feed(chunk) == []
        assert dec.buffered <= dec.buffer_bound
    assert dec.dropped_frames == 1  # counted once, when it outgrew the bound
    assert dec.feed(evwire.encode_frame(_msg(1))) == [_msg(1)]
    assert dec.dropped_bytes == 100000 and dec.buffered == 0


def test_long_run_in_one_read():
    dec = evwire.FrameDecoder(max_len=64)
    frame = evwire.encode_frame(_msg(1))  # longer than 64 bytes: dropped too
    assert dec.feed(b"\x01" * 10000 + frame) == []
    assert dec.dropped_frames == 2
    assert dec.dropped_bytes == 10000 + len(frame) - 2
    assert dec.buffered == 0


def test_counters_over_a_mixed_stream():
    good = evwire.encode_frame(_msg(1))
    payload = evwire.dumps(_msg(2))
    bad_crc = _frame_with_crc(payload, crc16_ccitt_false(payload) ^ 1)
    dec = evwire.FrameDecoder()
    got = dec.feed(b"xyz" + good + bad_crc + b"\x00\x00" + good)
    assert got == [_msg(1), _msg(1)]
    assert dec.frames == 2
    assert dec.dropped_frames == 2
    assert dec.dropped_bytes == 3 + len(bad_crc) - 2


def test_feed_accepts_bytes_bytearray_and_memoryview():
    frame = evwire.encode_frame(_msg(1))
    for data in (frame, bytearray(frame), memoryview(frame)):
        assert evwire.FrameDecoder().feed(data) == [_msg(1)]


def test_portable_crc_matches_fast_path():
    data = pseudo_random_bytes(1000, seed=7)
    assert crc16_portable(b"123456789") == 0x29B1
    # Reference values from binascii.crc_hqx(data, 0xFFFF) on CPython.
    assert crc16_portable(b"") == 0xFFFF
    assert crc16_portable(b"\x00") == 0xE1F0
    assert crc16_portable(b"\xff") == 0xFF00
    assert crc16_portable(b"A") == 0xB915
    assert crc16_portable(bytes(range(256))) == 0x3FBD
    assert crc16_portable(b"\xff" * 64) == 0xF154
    assert crc16_portable(data) == crc16_ccitt_false(data)
    assert crc16_portable(data[500:], crc16_portable(data[:500])) == crc16_ccitt_false(data)


def test_with_payload_returns_each_message_with_its_exact_cbor():
    msgs = [_msg(1), _msg(2, blob=b"\x00\x01"), _msg(3)]
    stream = b"".join(evwire.encode_frame(m) for m in msgs)
    dec = evwire.FrameDecoder(with_payload=True)
    got = []
    for i in range(0, len(stream), 5):  # delimiters split anywhere
        got += dec.feed(stream[i:i + 5])
    assert [pair[0] for pair in got] == msgs
    for msg, payload in got:
        assert isinstance(payload, bytes)
        assert payload == evwire.dumps(msg)
        assert evwire.loads(payload) == msg
    assert (dec.frames, dec.dropped_frames) == (3, 0)


def test_with_payload_drops_bad_frames_like_the_default():
    corrupt = bytearray(evwire.encode_frame(_msg(2)))
    corrupt[10] ^= 0x55
    stream = (evwire.encode_frame(_msg(1)) + b"junk\x00" + bytes(corrupt)
              + evwire.encode_frame(_msg(3)))
    plain, paired = evwire.FrameDecoder(), evwire.FrameDecoder(with_payload=True)
    got_plain, got_paired = plain.feed(stream), paired.feed(stream)
    assert [msg for msg, _payload in got_paired] == got_plain == [_msg(1), _msg(3)]
    assert (paired.frames, paired.dropped_frames, paired.dropped_bytes) == (
        plain.frames, plain.dropped_frames, plain.dropped_bytes)
    assert paired.dropped_frames == 2
    assert paired.last_error == plain.last_error == "CRC mismatch"


def test_with_payload_keeps_the_memory_bound():
    dec = evwire.FrameDecoder(64, with_payload=True)
    for _ in range(20):
        assert dec.feed(b"\x01" * 50) == []
        assert dec.buffered <= dec.buffer_bound
    assert dec.dropped_frames == 1
    msg = _message_of_payload_size(64)
    ((got, payload),) = dec.feed(b"\x00" + evwire.encode_frame(msg))
    assert got == msg and len(payload) == 64
