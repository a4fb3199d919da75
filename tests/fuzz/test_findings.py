"""What the fuzzer found stays fixed (docs/FUZZING.md, "Found so far")."""
from __future__ import annotations

import pytest
from central_rig import CentralRig, FakeChannel

from evcentral.boundary import dispatch
from evwire import DecodeError, loads
from evwire import cbor as portable


@pytest.mark.parametrize("bad_type", [{}, [], {"a": 1}, 5, None])
def test_central_refuses_a_type_that_is_not_text(tmp_path, bad_type):
    rig = CentralRig(tmp_path)
    channel = FakeChannel()
    rig.run(dispatch(rig.router, {"type": bad_type, "message_id": "m-1"}, channel))
    [reply] = channel.sent
    assert reply["type"] == "error_response" and reply["code"] == "validation_error"
    assert "'type'" in reply["error"] and reply["message_id"] == "m-1"


@pytest.mark.parametrize("hex_value", [
    "c249010000000000000000",  # tag 2: a bignum of 2^64
    "c11a5f5e1000",  # tag 1: an epoch datetime
    "d9010283010203",  # tag 258: a set
    "d82376612b",  # tag 35: a regular expression
    "d82a01",  # tag 42: unknown
    "9f01ff",  # an indefinite-length array
    "7f6161ff",  # an indefinite-length text
])
def test_cbor2_refuses_what_the_portable_codec_refuses(hex_value):
    data = bytes.fromhex(hex_value)
    with pytest.raises(DecodeError):
        portable.loads(data)
    with pytest.raises(DecodeError):
        loads(data)


def test_nesting_is_bounded_alike():
    deep = b"\x81" * (portable.MAX_DEPTH + 1) + b"\x00"
    with pytest.raises(DecodeError):
        portable.loads(deep)
    with pytest.raises(DecodeError):
        loads(deep)
    fine = b"\x81" * portable.MAX_DEPTH + b"\x00"
    assert loads(fine) == portable.loads(fine)
