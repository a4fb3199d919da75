# The golden vectors on both interpreters (this file also runs under CPython
# through tests/wire/test_portable_suite.py): every vector encodes to the
# exact CBOR and frame bytes cbor2 produced, and decodes to an equal value.
from mp_vectors import load, same

import evwire
from evwire import cbor

VECTORS = load()


def _fail(vector, what, got):
    raise AssertionError("%s: %s differs: %s" % (vector["name"], what, got))


def test_vectors_present():
    kinds = [v["kind"] for v in VECTORS]
    assert "message" in kinds and "edge" in kinds
    assert len(VECTORS) > 60


def test_portable_codec_encodes_every_vector():
    for v in VECTORS:
        got = cbor.dumps(v["value"])
        if got != v["cbor"]:
            _fail(v, "portable CBOR", got)


def test_evwire_dumps_encodes_every_vector():
    for v in VECTORS:
        got = evwire.dumps(v["value"])
        if got != v["cbor"]:
            _fail(v, "evwire.dumps", got)


def test_encode_frame_matches_every_vector():
    for v in VECTORS:
        got = evwire.encode_frame(v["value"])
        if got != v["frame"]:
            _fail(v, "frame", got)


def test_portable_codec_decodes_every_vector():
    for v in VECTORS:
        got = cbor.loads(v["cbor"])
        if not same(got, v["value"]):
            _fail(v, "portable decode", got)


def test_evwire_loads_decodes_every_vector():
    for v in VECTORS:
        got = evwire.loads(v["cbor"])
        if not same(got, v["value"]):
            _fail(v, "evwire.loads", got)


def test_frame_decoder_decodes_every_vector():
    for v in VECTORS:
        dec = evwire.FrameDecoder()
        got = dec.feed(v["frame"])
        if len(got) != 1 or not same(got[0], v["value"]):
            _fail(v, "FrameDecoder", got)


def test_all_frames_in_one_stream():
    stream = b"".join(v["frame"] for v in VECTORS)
    dec = evwire.FrameDecoder()
    got = dec.feed(stream)
    assert len(got) == len(VECTORS)
    for value, v in zip(got, VECTORS):
        if not same(value, v["value"]):
            _fail(v, "streamed decode", value)
    assert dec.dropped_frames == 0


def test_encoding_ignores_dict_insertion_order():
    for v in VECTORS:
        value = v["value"]
        reordered = {}
        for key in sorted(value, key=lambda k: repr(k), reverse=True):
            reordered[key] = value[key]
        assert cbor.dumps(reordered) == v["cbor"], v["name"]
