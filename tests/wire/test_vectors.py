"""Golden vectors on CPython: no drift from the generator, every catalogue type
covered, the issue's edge values present, and cbor2 / evwire / the portable
codec agreeing byte for byte on each vector."""
from __future__ import annotations

import math
import struct
import sys
from pathlib import Path

import cbor2
import pytest

import evwire
from evwire import cbor
from evwire.schema import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = ROOT / "tests" / "vectors" / "wire_vectors.json"


@pytest.fixture(scope="module")
def generator():
    from importlib.util import module_from_spec, spec_from_file_location

    # As when it runs as a script: its directory (vector_examples.py) on the path.
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        spec = spec_from_file_location("gen_vectors", ROOT / "tools" / "gen_vectors.py")
        module = module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return module


def test_committed_file_equals_generator_output(generator):
    assert VECTORS_FILE.read_text(encoding="utf-8") == generator.render(), (
        "tests/vectors/wire_vectors.json is stale: run .venv/bin/python tools/gen_vectors.py")


def test_generator_check_flag(generator, tmp_path, capsys):
    out = tmp_path / "vectors.json"
    assert generator.main(["--check", "--out", str(out)]) == 1  # missing file
    assert generator.main(["--out", str(out)]) == 0
    assert generator.main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text().replace('"cbor": "a', '"cbor": "b', 1))
    assert generator.main(["--check", "--out", str(out)]) == 1
    assert "stale" in capsys.readouterr().err


def test_reference_cobs_of_generator_agrees_with_evwire(generator):
    for n in (0, 1, 253, 254, 255, 508, 509):
        for data in (bytes((i % 255) + 1 for i in range(n)), bytes(n), bytes(range(256))[:n]):
            assert generator.reference_cobs(data) == evwire.framing.cobs_encode(data), (n, data)


def test_every_catalogue_type_has_a_valid_message_vector(mpv):
    messages = {v["name"]: v["value"] for v in mpv.load(str(VECTORS_FILE))
                if v["kind"] == "message"}
    assert {msg["type"] for msg in messages.values()} == set(SCHEMA)
    assert set(SCHEMA) <= set(messages)  # one named after each type, variants beside it
    for name, msg in messages.items():
        assert name == msg["type"] or name.startswith(msg["type"] + ", "), name
        evwire.validate(msg)


def test_vector_names_are_unique(mpv):
    names = [v["name"] for v in mpv.load(str(VECTORS_FILE))]
    assert len(names) == len(set(names))


def _leaves(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_the_issues_edge_values_are_covered(mpv):
    vectors = mpv.load(str(VECTORS_FILE))
    leaves = [leaf for v in vectors for leaf in _leaves(v["value"])]

    def has(wanted):
        return any(mpv.same(leaf, wanted) for leaf in leaves)

    for wanted in (0, -1, 2**32, 2**63 - 1, -(2**63), 2**64 - 1, -(2**64), 0.1, 11.0, 1.5,
                   65504.0, 1e300, -0.0, "", b"", True, False, None):
        assert has(wanted), wanted
    assert any(isinstance(x, float) and math.isnan(x) for x in leaves)
    assert any(isinstance(x, str) and any(ord(c) > 0xFFFF for c in x) for x in leaves)
    assert any(isinstance(x, bytes) and b"\x00" in x for x in leaves)
    assert any(isinstance(x, str) and len(x.encode()) > 23 and x.startswith("a_key")
               for x in leaves)
    cps = next(v["value"] for v in vectors if v["name"] == "available_cps_response")
    assert len(cps["charging_points"]) >= 2
    assert all(isinstance(p, dict) for p in cps["charging_points"])
    # A map whose insertion order is not its canonical order.
    reordered = next(v for v in vectors if v["name"] == "map keys out of canonical order")
    keys = list(reordered["value"])
    assert keys != sorted(keys, key=lambda k: (len(cbor.dumps(k)), cbor.dumps(k)))


def test_cbor2_and_portable_codec_agree_on_vector(vector):
    assert cbor2.dumps(vector["value"], canonical=True) == vector["cbor"]
    assert cbor.dumps(vector["value"]) == vector["cbor"]
    assert evwire.dumps(vector["value"]) == vector["cbor"]


def test_vector_decodes_equal_with_sign_and_type(vector, mpv):
    for decoded in (cbor2.loads(vector["cbor"]), cbor.loads(vector["cbor"]),
                    evwire.loads(vector["cbor"])):
        assert mpv.same(decoded, vector["value"])
    got = evwire.FrameDecoder().feed(vector["frame"])
    assert len(got) == 1 and mpv.same(got[0], vector["value"])


def test_same_tells_signed_zero_and_types_apart(mpv):
    assert not mpv.same(-0.0, 0.0)
    assert not mpv.same(1, 1.0) and not mpv.same(1, True) and not mpv.same(b"a", "a")
    assert mpv.same(float("nan"), float("nan"))
    assert not mpv.same({"a": [1, 2.0]}, {"a": [1, 2]})
    assert mpv.same({"a": [1, -0.0]}, {"a": [1, struct.unpack(">d", b"\x80" + bytes(7))[0]]})


def test_refused_vectors_cover_the_issue_and_are_refused(mpv):
    refused = [v for v in mpv.load(str(VECTORS_FILE)) if v["kind"] == "refused"]
    leaves = [leaf for v in refused for leaf in _leaves(v["value"])]
    assert any(isinstance(x, float) and math.isnan(x) for x in leaves)
    assert math.inf in leaves and -math.inf in leaves
    assert any(isinstance(x, (int, float)) and not isinstance(x, bool) and x < 0
               for x in leaves)
    assert any(isinstance(x, str) and len(x) == 65 for x in leaves)
    assert 0 in leaves  # a timestamp out of the window
    for v in refused:
        with pytest.raises(evwire.ValidationError) as err:
            evwire.validate(cbor2.loads(v["cbor"]))
        assert str(err.value) == v["error"], v["name"]
