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
    """[{name, kind, value, cbor (bytes), frame (bytes)}] from the vector file."""
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
