# Helpers of the wire tests: the golden vectors (tests/vectors/wire_vectors.json)
# as Python values, a strict equality for decoded values, raises(),
# deterministic noise, and a TCP frame echo peer. Portable: imported by the
# MicroPython tests and, by path, by the CPython tests (which also run the
# test_wire_*.py files).
#
# JSON cannot hold every CBOR value, so the file uses three markers:
#   {"$bytes": "hex"}          a byte string
#   {"$float": "nan"|"inf"|"-inf"}   a non-finite float
#   {"$map": [[key, value], ...]}    a map whose keys are not all text
import binascii
import json
import struct


def _vectors_path():
    # Beside this file's folder, whatever the current directory (CPython runs
    # these modules from anywhere); the runner's relative path otherwise.
    here = globals().get("__file__", "")
    if "/" in here:
        return here.rsplit("/", 1)[0] + "/../vectors/wire_vectors.json"
    return "tests/vectors/wire_vectors.json"


VECTORS_PATH = _vectors_path()


def from_json(node):
    if isinstance(node, list):
        return [from_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        if "$bytes" in node:
            return binascii.unhexlify(node["$bytes"])
        if "$float" in node:
            return float(node["$float"])
        if "$map" in node:
            return {from_json(k): from_json(v) for k, v in node["$map"]}
    return {k: from_json(v) for k, v in node.items()}


def load(path=VECTORS_PATH):
    """[{name, kind, value, cbor (bytes), frame (bytes), error}] from the vector file."""
    with open(path) as f:
        doc = json.load(f)
    out = []
    for entry in doc["vectors"]:
        out.append({
            "name": entry["name"],
            "kind": entry["kind"],
            "value": from_json(entry["value"]),
            "cbor": binascii.unhexlify(entry["cbor"]),
            "frame": binascii.unhexlify(entry["frame"]),
            "error": entry.get("error"),  # kind "refused": what validate() must say
        })
    return out


def same(a, b):
    """Equal in value AND type: 1 != 1.0 != True, -0.0 != 0.0, NaN == NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if a != a or b != b:
            return a != a and b != b
        return struct.pack(">d", a) == struct.pack(">d", b)
    if isinstance(a, list):
        if len(a) != len(b):
            return False
        for x, y in zip(a, b):
            if not same(x, y):
                return False
        return True
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for key in a:
            if key not in b or not same(a[key], b[key]):
                return False
        return True
    return a == b


# A good value of every catalogue kind (evwire.schema._KINDS), at neither bound.
GOOD = {"str": "CP1", "txt": "a reason", "id": "CP1", "int": 1700000000, "num": 11.5,
        "bool": False, "list": [{"a": 1}], "map": {"k": "v"}, "any": [1, "two"],
        "kwh": 1234.5, "money": 3.75, "kw": 11.0, "price": 0.3, "amps": 32.0, "volts": 230.0,
        "secs": 60, "ts": 1700000000, "ms": 1700000000000, "pct": 50, "lim": 20, "nat": 7}


def valid_message(msg_type, message_id="00000000-0000-4000-8000-000000000001"):
    """A message of msg_type with every required field set to a good value."""
    from evwire.schema import fields_of

    msg = {"type": msg_type, "message_id": message_id}
    for name, kind, _nullable, required in fields_of(msg_type):
        if required:
            msg[name] = GOOD[kind]
    return msg


def raises(exc_class, fn, *args, **kwargs):
    """Call fn; return the exception it raised (must be exc_class) or fail."""
    try:
        fn(*args, **kwargs)
    except exc_class as exc:
        return exc
    raise AssertionError("%s did not raise %s" % (fn, exc_class.__name__))


def pseudo_random_bytes(n, seed=12345):
    """Deterministic noise (a 32-bit LCG) that includes zero bytes."""
    out = bytearray(n)
    state = seed
    for i in range(n):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (state >> 16) & 0xFF
    return bytes(out)


def echo_frames(host, port, chunk=512):
    """Connect to host:port and send back, re-encoded, every message decoded.

    Ends after a map with a "stop" key, answered with the decoder's counters.
    tests/wire/test_cross_interpreter.py runs this under micropython, so a
    CPython peer and a MicroPython peer exchange frames over real TCP.
    """
    import socket

    import evwire

    sock = socket.socket()
    sock.connect(socket.getaddrinfo(host, port)[0][-1])
    decoder = evwire.FrameDecoder()
    try:
        while True:
            data = sock.recv(chunk)
            if not data:
                return
            for msg in decoder.feed(data):
                if "stop" in msg:
                    sock.sendall(evwire.encode_frame({
                        "stop": True, "frames": decoder.frames,
                        "dropped_frames": decoder.dropped_frames,
                        "dropped_bytes": decoder.dropped_bytes}))
                    return
                sock.sendall(evwire.encode_frame(msg))
    finally:
        sock.close()


def validate_frames(host, port, chunk=512):
    """Like echo_frames, but answer each message as a tier's boundary does:
    {"valid": True} for a message the catalogue accepts, else the
    error_response evwire.dispatch gives (refused vectors, over real TCP)."""
    import socket

    import evwire
    from evwire.dispatch import error_response_for
    from evwire.errors import WireError

    sock = socket.socket()
    sock.connect(socket.getaddrinfo(host, port)[0][-1])
    decoder = evwire.FrameDecoder()
    try:
        while True:
            data = sock.recv(chunk)
            if not data:
                return
            for msg in decoder.feed(data):
                if "stop" in msg:
                    return
                try:
                    evwire.validate(msg)
                    reply = {"valid": True}
                except WireError as exc:
                    reply = error_response_for(exc, msg)
                sock.sendall(evwire.encode_frame(reply))
    finally:
        sock.close()
