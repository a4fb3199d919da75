# The golden vectors on both interpreters (this file also runs under CPython
# through tests/wire/test_portable_suite.py): every vector encodes to the
# exact CBOR and frame bytes cbor2 produced, and decodes to an equal value.
from mp_vectors import load, raises, same

import evwire
from evwire import cbor
from evwire import types as t
from evwire.errors import ValidationError

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


def test_refused_vectors_are_refused_with_their_exact_text():
    refused = [v for v in VECTORS if v["kind"] == "refused"]
    assert len(refused) >= 20
    for v in refused:
        for msg in (evwire.loads(v["cbor"]), evwire.FrameDecoder().feed(v["frame"])[0]):
            got = str(raises(ValidationError, evwire.validate, msg))
            if got != v["error"]:
                _fail(v, "refusal", got)


def test_refused_vectors_become_an_error_response_naming_the_field():
    from evwire.dispatch import Dispatcher

    class Nobody:
        pass

    # Validation comes first: no type needs to be accepted, no handler to run.
    dispatcher = Dispatcher(Nobody(), ())
    for v in VECTORS:
        if v["kind"] != "refused":
            continue
        reply = dispatcher.handle(evwire.loads(v["cbor"]))
        assert reply["type"] == t.ERROR_RESPONSE and reply["code"] == "validation_error"
        assert reply["error"] == v["error"], v["name"]
        evwire.validate(reply)


def test_message_vectors_are_accepted():
    for v in VECTORS:
        if v["kind"] == "message":
            evwire.validate(evwire.loads(v["cbor"]))
