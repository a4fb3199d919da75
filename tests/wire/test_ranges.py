"""Numbers finite and in range, ids and text bounded, at the schema: every
bounded field of the catalogue, at its bounds and just past them, with the
exact error text (CPython; tests/micropython/test_wire_messages.py and the
refused golden vectors check the same on MicroPython)."""
from __future__ import annotations

import math

import pytest
from mp_vectors import GOOD  # loaded by conftest.py
from mp_vectors import valid_message as valid

import evwire
from evwire import types as t
from evwire.errors import ValidationError
from evwire.schema import ID_RULE, SCHEMA, fields_of, kind_ok, rule_of

FIELDS = [(mt, name, kind) for mt in sorted(SCHEMA) for name, kind, _n, _r in fields_of(mt)]
NUMBERS = [f for f in FIELDS if rule_of(f[2])[0] in ("num", "int") and rule_of(f[2])[1] is not None]
FLOATS = [f for f in FIELDS if rule_of(f[2])[0] == "num"]
IDS = [f for f in FIELDS if f[2] == "id"]
TEXTS = [f for f in FIELDS if f[2] in ("str", "txt")]


def ids(fields):
    return [f"{m}.{n}" for m, n, _k in fields]


def refusal(msg_type: str, name: str, value) -> str:
    msg = valid(msg_type)
    msg[name] = value
    with pytest.raises(ValidationError) as err:
        evwire.validate(msg)
    return str(err.value)


def accepted(msg_type: str, name: str, value) -> None:
    msg = valid(msg_type)
    msg[name] = value
    assert evwire.validate(msg) is msg


def rule_text(kind: str) -> str:
    base, lo, hi = rule_of(kind)
    return f"{'a finite number' if base == 'num' else 'an integer'} >= {lo} and <= {hi}"


@pytest.mark.parametrize(("msg_type", "name", "kind"), NUMBERS, ids=ids(NUMBERS))
def test_numbers_at_and_past_their_bounds(msg_type, name, kind):
    _base, lo, hi = rule_of(kind)
    accepted(msg_type, name, lo)
    accepted(msg_type, name, hi)
    expected = f"{msg_type}: field '{name}' must be {rule_text(kind)}"
    assert refusal(msg_type, name, lo - 1) == expected
    assert refusal(msg_type, name, hi + 1) == expected


@pytest.mark.parametrize(("msg_type", "name", "kind"), FLOATS, ids=ids(FLOATS))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -0.001, 1e300],
                         ids=["nan", "inf", "-inf", "negative", "huge"])
def test_numbers_must_be_finite(msg_type, name, kind, bad):
    assert refusal(msg_type, name, bad) == f"{msg_type}: field '{name}' must be {rule_text(kind)}"


@pytest.mark.parametrize(("msg_type", "name", "kind"), IDS, ids=ids(IDS))
@pytest.mark.parametrize("bad", ["", "CP 1", "CP/1", "CP\n1", "Zürich", "C" * 65, "DROP;--", "a+b"])
def test_ids_keep_to_their_charset_and_length(msg_type, name, kind, bad):
    assert refusal(msg_type, name, bad) == f"{msg_type}: field '{name}' must be {ID_RULE}"
    accepted(msg_type, name, "A-z_0.9:" + "x" * 56)


def test_the_issues_examples_word_for_word():
    assert refusal(t.CHARGING_DATA, "energy_consumed_kwh", math.nan).startswith(
        "charging_data: field 'energy_consumed_kwh' must be a finite number >= 0")
    assert refusal(t.CHARGE_REQUEST, "driver_id", "D 1") == (
        "charge_request: field 'driver_id' must be 1-64 of A-Z a-z 0-9 . _ : -")


@pytest.mark.parametrize(("msg_type", "name", "kind"), TEXTS, ids=ids(TEXTS))
def test_texts_are_bounded(msg_type, name, kind):
    hi = rule_of(kind)[2]
    accepted(msg_type, name, "é" * hi)
    assert refusal(msg_type, name, "a" * (hi + 1)) == (
        f"{msg_type}: field '{name}' must be a text string of at most {hi} characters")


def test_lists_are_bounded():
    accepted(t.SESSION_HISTORY_RESPONSE, "sessions", [{}] * 10000)
    assert refusal(t.SESSION_HISTORY_RESPONSE, "sessions", [{}] * 10001) == (
        "session_history_response: field 'sessions' must be a list of at most 10000 items")


def test_timestamps_in_the_window_both_epochs():
    # 2000-01-01 is where a board whose clock was never set starts
    # (MicroPython's 2000 epoch, converted by evwire.compat.unix_time).
    accepted(t.HEARTBEAT_REQUEST, "timestamp", 946684800 + 5)
    for bad in (0, 1, -1, 1700000000000, 2**64):
        assert refusal(t.HEARTBEAT_REQUEST, "timestamp", bad) == (
            "heartbeat_request: field 'timestamp' must be an integer >= 946684800 and "
            "<= 4102444800")
    assert refusal(t.CHARGING_DATA, "created_ms", 1700000000) == (
        "charging_data: field 'created_ms' must be an integer >= 946684800000 and "
        "<= 4102444800000")


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, 7, None])
def test_message_id_is_an_id(bad):
    msg = valid(t.HEARTBEAT_REQUEST)
    msg["message_id"] = bad
    with pytest.raises(ValidationError) as err:
        evwire.validate(msg)
    word = "a text string" if not isinstance(bad, str) else ID_RULE
    assert str(err.value) == f"heartbeat_request: field 'message_id' must be {word}"


def test_error_response_echoes_only_what_is_valid():
    reply = evwire.error_response("bad", {"type": "x" * 300, "message_id": "not an id"})
    assert reply["message_id"] != "not an id" and reply["request_type"] is None
    evwire.validate(reply)
    reply = evwire.error_response("bad", {"type": "charge_request", "message_id": "m-1"})
    assert reply["message_id"] == "m-1" and reply["request_type"] == "charge_request"


def test_unknown_type_text_is_bounded():
    with pytest.raises(ValidationError) as err:
        evwire.validate({"type": "z" * 5000, "message_id": "m"})
    assert str(err.value) == "unknown message type '%s'" % ("z" * 64)


def test_plain_numbers_are_finite_too():
    assert kind_ok(1.5, "num") and kind_ok(10**30, "num")
    for bad in (math.nan, math.inf, -math.inf):
        assert not kind_ok(bad, "num")


def test_every_good_value_keeps_its_rule():
    for kind, value in GOOD.items():
        assert kind_ok(value, kind), kind
