# Frames: 0x00 | COBS(PAYLOAD | CRC16-CCITT-FALSE big-endian) | 0x00
# Self-synchronising: 0x00 only ever delimits, so a receiver that lost
# its place recovers at the next 0x00. Bad frames are dropped and counted.
from evwire.compat import const
from evwire.errors import DecodeError

DEFAULT_MAX = const(4096)


def _make_crc_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _make_crc_table()


def crc16_ccitt_false(data, crc=0xFFFF):
    table = _CRC_TABLE
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ b]
    return crc


def cobs_encode(data):
    out = bytearray()
    n = len(data)
    start = 0
    while True:
        # A block holds at most 254 data bytes (code 0xFF) or ends at a zero.
        end = start
        limit = start + 254
        while end < n and end < limit and data[end] != 0:
            end += 1
        out.append(end - start + 1)
        out.extend(data[start:end])
        if end >= n:
            break
        if end == limit:
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


def _dumps():
    # cbor2 is C-accelerated on CPython; the portable codec elsewhere. Both
    # produce identical bytes (proved by the golden vectors).
    try:
        import cbor2

        def dumps(obj):
            return cbor2.dumps(obj, canonical=True)

        def loads(data):
            try:
                return cbor2.loads(data)
            except Exception as exc:  # cbor2 raises several classes; one for us
                raise DecodeError("invalid CBOR: %s" % exc)

        return dumps, loads
    except ImportError:
        from evwire import cbor

        return cbor.dumps, cbor.loads


dumps, loads = _dumps()


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


class FrameDecoder:
    """Feed bytes from any stream; get back decoded messages.

    Never raises from feed(); never holds more than `buffer_bound` bytes while
    waiting for a delimiter (max_len + 2 CRC bytes + COBS overhead + 1).
    Bad frames (invalid COBS, CRC mismatch, oversize, not a CBOR map) are
    dropped and counted in `dropped_frames`; bytes thrown away in
    `dropped_bytes`. The last reason is kept in `last_error` for logs.
    """

    def __init__(self, max_len=DEFAULT_MAX):
        self.max_len = max_len
        self.buffer_bound = max_len + 2 + (max_len + 2) // 254 + 2
        self._buf = bytearray()
        self._discarding = False
        self.dropped_frames = 0
        self.dropped_bytes = 0
        self.frames = 0
        self.last_error = None

    def _drop(self, nbytes, reason):
        self.dropped_frames += 1
        self.dropped_bytes += nbytes
        self.last_error = reason

    def feed(self, data):
        messages = []
        start = 0
        n = len(data)
        while start < n:
            end = data.find(b"\x00", start)
            if end < 0:
                chunk = data[start:]
                if self._discarding:
                    self.dropped_bytes += len(chunk)
                elif len(self._buf) + len(chunk) > self.buffer_bound:
                    self._drop(len(self._buf) + len(chunk), "frame longer than %d" % self.max_len)
                    self._buf = bytearray()
                    self._discarding = True
                else:
                    self._buf.extend(chunk)
                break
            chunk = data[start:end]
            start = end + 1
            if self._discarding:
                self.dropped_bytes += len(chunk)
                self._discarding = False
                continue
            if self._buf:
                self._buf.extend(chunk)
                body = bytes(self._buf)
                self._buf = bytearray()
            else:
                body = bytes(chunk)
            if not body:
                continue  # empty frame between back-to-back delimiters
            msg = self._decode(body)
            if msg is not None:
                messages.append(msg)
        return messages

    def _decode(self, body):
        if len(body) > self.buffer_bound:
            self._drop(len(body), "frame longer than %d" % self.max_len)
            return None
        try:
            payload = decode_payload(body)
            if len(payload) > self.max_len:
                raise DecodeError("payload longer than %d" % self.max_len)
            msg = loads(payload)
            if not isinstance(msg, dict):
                raise DecodeError("payload is not a CBOR map")
        except DecodeError as exc:
            self._drop(len(body) + 2, str(exc))
            return None
        except Exception as exc:  # a codec bug must not kill the link
            self._drop(len(body) + 2, "undecodable frame: %s" % exc)
            return None
        self.frames += 1
        return msg
