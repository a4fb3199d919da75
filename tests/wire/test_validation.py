"""Validation parametrized over the whole catalogue, ids, and the auth MAC
against Python's own hmac module (CPython only; the portable suite checks
the same rules on MicroPython)."""
from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mp_vectors import GOOD, valid_message  # loaded by conftest.py

import evwire
from evwire import types as t
from evwire.auth import auth_mac, auth_text
from evwire.compat import hmac_sha256
from evwire.dispatch import Dispatcher
from evwire.errors import UnknownTypeError, ValidationError
from evwire.messages import counter_ids, set_id_source
from evwire.schema import SCHEMA, fields_of, rule_of

WRONG = {"str": [("an int", 5), ("bytes", b"CP1"), ("a list", ["CP1"])],
         "int": [("a bool", True), ("a float", 1.0), ("text", "1")],
         "num": [("a bool", True), ("text", "11.0"), ("a list", [11.0])],
         "bool": [("an int", 1), ("text", "true")],
         "list": [("a map", {}), ("text", "[]")],
         "map": [("a list", []), ("text", "{}")]}
WORDS = {"str": "a text string", "int": "an integer", "num": "a number", "bool": "a boolean",
         "list": "a list", "map": "a map"}


def base(kind: str) -> str:
    return rule_of(kind)[0]


def valid(msg_type: str) -> dict:
    return valid_message(msg_type, str(uuid.uuid4()))


REQUIRED = [(mt, name) for mt in sorted(SCHEMA)
            for name, _k, _n, required in fields_of(mt) if required]
WRONG_KINDS = [(mt, name, base(kind), label, value) for mt in sorted(SCHEMA)
               for name, kind, _n, _r in fields_of(mt) if kind != "any"
               for label, value in WRONG[base(kind)]]


@pytest.mark.parametrize("msg_type", sorted(SCHEMA))
def test_required_fields_suffice(msg_type):
    evwire.validate(valid(msg_type))


@pytest.mark.parametrize("msg_type", sorted(SCHEMA))
def test_all_fields_with_extras_validate(msg_type):
    msg = valid(msg_type)
    msg.update({name: GOOD[kind] for name, kind, _n, _r in fields_of(msg_type)})
    msg["added_by_a_newer_peer"] = {"anything": [1, 2.5, None]}
    assert evwire.validate(msg) is msg


@pytest.mark.parametrize(("msg_type", "field"), REQUIRED, ids=[f"{m}.{f}" for m, f in REQUIRED])
def test_missing_required_field(msg_type, field):
    msg = valid(msg_type)
    del msg[field]
    with pytest.raises(ValidationError) as err:
        evwire.validate(msg)
    assert str(err.value) == f"{msg_type}: missing field '{field}'"


@pytest.mark.parametrize(("msg_type", "field", "kind", "label", "value"), WRONG_KINDS,
                         ids=[f"{m}.{f}-{lab}" for m, f, _k, lab, _v in WRONG_KINDS])
def test_wrong_kind_rejected(msg_type, field, kind, label, value):
    msg = valid(msg_type)
    msg[field] = value
    with pytest.raises(ValidationError) as err:
        evwire.validate(msg)
    assert str(err.value) == f"{msg_type}: field '{field}' must be {WORDS[kind]}"


def test_issue_examples_word_for_word():
    msg = valid(t.CHARGING_DATA)
    msg["energy_consumed_kwh"] = "1.2"
    with pytest.raises(ValidationError, match=r"^charging_data: field 'energy_consumed_kwh' "
                                              r"must be a number$"):
        evwire.validate(msg)
    msg = valid(t.CHARGE_REQUEST)
    del msg["cp_id"]
    with pytest.raises(ValidationError, match=r"^charge_request: missing field 'cp_id'$"):
        evwire.validate(msg)


@pytest.mark.parametrize("not_a_map", [[], "charge_request", 7, None, b"\xa0"])
def test_non_maps_rejected(not_a_map):
    with pytest.raises(ValidationError, match="^message must be a map, not "):
        evwire.validate(not_a_map)


def test_unknown_type_rejected_with_its_own_class():
    with pytest.raises(UnknownTypeError, match="^unknown message type 'teleport_request'$"):
        evwire.validate({"type": "teleport_request", "message_id": "m"})
    assert issubclass(UnknownTypeError, ValidationError)


def test_dispatcher_echoes_the_message_id_in_error_response():
    class Handlers:
        def charge_request(self, msg):
            raise AssertionError("must not run for an invalid message")

    request = valid(t.CHARGE_REQUEST)
    request["timestamp"] = "yesterday"
    reply = Dispatcher(Handlers(), (t.CHARGE_REQUEST,)).handle(request)
    assert reply["type"] == t.ERROR_RESPONSE
    assert reply["message_id"] == request["message_id"]
    assert reply["error"] == "charge_request: field 'timestamp' must be an integer"
    assert reply["code"] == "validation_error"
    evwire.validate(reply)


def test_message_ids_are_uuid4():
    for _ in range(100):
        parsed = uuid.UUID(evwire.new_message_id())
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_counter_ids_restore_random_ids():
    set_id_source(counter_ids(prefix="00000000-0000-4000-8000-"))
    try:
        assert [evwire.new_message_id() for _ in range(2)] == [
            "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
    finally:
        set_id_source(None)
    assert uuid.UUID(evwire.new_message_id()).version == 4


@settings(max_examples=100, deadline=None)
@given(key=st.binary(max_size=200), data=st.binary(max_size=300))
def test_hmac_sha256_equals_python_hmac(key, data):
    assert hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()


@settings(max_examples=100, deadline=None)
@given(secret=st.text(max_size=80), cp_id=st.text(min_size=1, max_size=20),
       timestamp=st.integers(0, 2**40), nonce=st.text(alphabet="0123456789abcdef", max_size=32))
def test_auth_mac_equals_python_hmac(secret, cp_id, timestamp, nonce):
    expected = hmac.new(secret.encode(), auth_text(cp_id, timestamp, nonce).encode(),
                        hashlib.sha256).hexdigest()
    assert auth_mac(secret, cp_id, timestamp, nonce) == expected


def test_auth_mac_fixed_vector():
    # The same vector is asserted on MicroPython (tests/micropython/test_wire_messages.py).
    assert auth_mac("s3cret", "CP1", 1700000000, "00112233445566778899aabbccddeeff") == (
        "c8b72153f653eb0a7fc029b779a2ce6ea9de75b232bccf221577f1128faf8795")


def test_reply_types_follow_the_catalogue():
    from evwire.messages import response_type_for

    assert response_type_for("auth_request") == "auth_response"
    assert response_type_for("charge_request") == "charge_request_response"
    assert response_type_for("health_check_request") == "health_check_response"
    assert response_type_for("start_charging_command") == "command_response"
    assert response_type_for("manual_command") == "manual_command_response"
    req = {"type": "register_request", "message_id": "m1"}
    assert evwire.success(req)["type"] == "register_response"
