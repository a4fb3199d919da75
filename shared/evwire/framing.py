# Frames: 0x00 | COBS(PAYLOAD | CRC16-CCITT-FALSE big-endian) | 0x00
# Self-synchronising: 0x00 only ever delimits, so a receiver that lost
# its place recovers at the next 0x00. Bad frames are dropped and counted.
from evwire import compat
from evwire.compat import const
from evwire.errors import DecodeError

DEFAULT_MAX = const(4096)
_COBS_BLOCK = const(254)  # data bytes in a full COBS block (code 0xFF)


def crc16_portable(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE without a table, for interpreters without crc_hqx.

    The byte-at-a-time shift form of poly 0x1021: a 256-entry table would be
    about twice as fast on MicroPython but holds 2 KB of heap on a 64-bit port
    (1 KB on a board) for a few hundred bytes a second."""
    for b in data:
        x = (crc >> 8) ^ b
        x ^= x >> 4
        crc = ((crc << 8) ^ (x << 12) ^ (x << 5) ^ x) & 0xFFFF
    return crc


_crc_hqx = compat.crc_hqx


def crc16_ccitt_false(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); 0x29B1 for b"123456789"."""
    if _crc_hqx is not None:
        return _crc_hqx(data, crc)
    return crc16_portable(data, crc)


def cobs_encode(data):
    out = bytearray()
    n = len(data)
    start = 0
    while True:
        # A block holds at most 254 data bytes (code 0xFF) or ends at a zero.
        limit = start + _COBS_BLOCK
        if limit > n:
            limit = n
        end = data.find(b"\x00", start, limit)
        if end < 0:
            end = limit
        out.append(end - start + 1)
        out.extend(data[start:end])
        if end == n:
            break
        if end - start == _COBS_BLOCK:
            start = end  # full block, no zero consumed
        else:
            start = end + 1  # consumed a zero
            if start == n:
                out.append(1)  # the data ended with a zero
                break
    return bytes(out)


def cobs_decode(data):
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise DecodeError("zero byte inside COBS frame")
        end = i + code
        if end > n:
            raise DecodeError("COBS block runs past the end of the frame")
        out.extend(data[i + 1:end])
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


# cbor2 is C-accelerated on CPython; the portable codec elsewhere. Both
# produce identical bytes (proved by the golden vectors), and both raise
# ValueError for what they cannot encode, DecodeError for bad input. The cbor2
# glue is its own module, so it is neither loaded nor shipped to a board.
if compat.cbor2 is None:
    from evwire.cbor import dumps, loads  # noqa: F401
else:
    from evwire.cbor2_codec import dumps, loads  # noqa: F401

def encode_frame(msg):
    """Encode one message (a map) into a complete frame, delimiters included."""
    payload = dumps(msg)
    crc = crc16_ccitt_false(payload)
    return b"\x00" + cobs_encode(payload + bytes((crc >> 8, crc & 0xFF))) + b"\x00"


def decode_payload(frame_body):
    """COBS body (no delimiters) -> payload bytes; raises DecodeError."""
    raw = cobs_decode(frame_body)
    if len(raw) < 3:
        raise DecodeError("frame too short")
    payload = raw[:-2]
    crc = (raw[-2] << 8) | raw[-1]
    if crc16_ccitt_false(payload) != crc:
        raise DecodeError("CRC mismatch")
    return payload


def frame_bound(max_len):
    """Longest COBS body a payload of max_len bytes (plus its CRC) can need."""
    stuffed = max_len + 2
    return stuffed + stuffed // _COBS_BLOCK + 1


class FrameDecoder:
    """Feed bytes from any stream; get back decoded messages (CBOR maps).

    with_payload=True: feed() returns (msg, payload) pairs instead, payload
    being the exact CBOR bytes the message was decoded from (the Monitor
    forwards them to Kafka unchanged, never re-encoded).

    feed() never raises. Between delimiters it buffers at most
    `buffer_bound` = max_len + 3 + (max_len + 2) // 254 bytes (4115 for the
    default 4096): the longest body a valid frame can have. A longer run is
    dropped at once and the rest of it skipped until the next 0x00.

    Counters: `frames` decoded; `dropped_frames` (invalid COBS, CRC mismatch,
    payload over max_len, not a CBOR map, or too long to buffer);
    `dropped_bytes`, the non-delimiter bytes that did not become a message.
    `last_error` keeps the last reason, for logs.
    """

    def __init__(self, max_len=DEFAULT_MAX, with_payload=False):
        if not isinstance(max_len, int) or max_len < 1:
            raise ValueError("max_len must be a positive integer")
        self.max_len = max_len
        self.with_payload = with_payload
        self.buffer_bound = frame_bound(max_len)
        self._buf = bytearray()
        self._discarding = False
        self.dropped_frames = 0
        self.dropped_bytes = 0
        self.frames = 0
        self.last_error = None

    @property
    def buffered(self):
        """Bytes held while waiting for a delimiter (never above buffer_bound)."""
        return len(self._buf)

    def _drop(self, nbytes, reason):
        self.dropped_frames += 1
        self.dropped_bytes += nbytes
        self.last_error = reason

    def feed(self, data):
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)  # memoryview and friends have no find()
        messages = []
        start = 0
        n = len(data)
        while start < n:
            end = data.find(b"\x00", start)
            if end < 0:
                self._hold(data, start, n)
                break
            if self._buf or self._discarding:
                self._hold(data, start, end)
                self._end_of_frame(messages)
            elif end - start > self.buffer_bound:
                self._drop(end - start, "frame longer than %d bytes" % self.buffer_bound)
            elif end > start:
                # A whole frame inside this read: decode it without buffering.
                self._decode(data[start:end], messages)
            start = end + 1
        return messages

    def _hold(self, data, start, stop):
        count = stop - start
        if count == 0:
            return
        if self._discarding:
            self.dropped_bytes += count
        elif len(self._buf) + count > self.buffer_bound:
            self._drop(len(self._buf) + count, "frame longer than %d bytes" % self.buffer_bound)
            self._buf = bytearray()
            self._discarding = True
        else:
            self._buf.extend(data[start:stop])

    def _end_of_frame(self, messages):
        if self._discarding:
            self._discarding = False
            return
        body = bytes(self._buf)
        self._buf = bytearray()
        if body:  # empty frames between back-to-back delimiters are ignored
            self._decode(body, messages)

    def _decode(self, body, messages):
        try:
            payload = decode_payload(body)
            if len(payload) > self.max_len:
                raise DecodeError("payload longer than %d" % self.max_len)
            msg = loads(payload)
            if not isinstance(msg, dict):
                raise DecodeError("payload is not a CBOR map")
        except DecodeError as exc:
            self._drop(len(body), str(exc))
            return
        except Exception as exc:  # a codec bug must not kill the link
            self._drop(len(body), "undecodable frame: %s" % exc)
            return
        self.frames += 1
        messages.append((msg, payload) if self.with_payload else msg)
