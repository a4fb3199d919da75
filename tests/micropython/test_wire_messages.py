# The catalogue's validation, the Dispatcher, message ids and the auth MAC on
# both interpreters (also run under CPython by tests/wire/test_portable_suite.py).
from mp_vectors import GOOD, raises, valid_message

import evwire
from evwire import trace
from evwire import types as t
from evwire.auth import auth_mac, constant_time_equal, make_auth_request
from evwire.compat import hexlify, hmac_sha256
from evwire.dispatch import Dispatcher
from evwire.errors import RejectedError, UnknownTypeError, ValidationError
from evwire.messages import counter_ids, set_id_source
from evwire.schema import ID_RULE, SCHEMA, fields_of, kind_ok, known_types, rule_of

# For each base kind, a value of the wrong kind (bool must not pass as int or num).
WRONG = {"str": 5, "int": True, "num": False, "bool": 1, "list": {}, "map": []}
WORDS = {"str": "a text string", "int": "an integer", "num": "a number",
         "bool": "a boolean", "list": "a list", "map": "a map"}


def _valid(msg_type):
    return valid_message(msg_type)


def _message_error(msg):
    return str(raises(ValidationError, evwire.validate, msg))


def test_every_type_accepts_its_required_fields():
    for msg_type in SCHEMA:
        msg = _valid(msg_type)
        assert evwire.validate(msg) is msg


def test_every_required_field_is_enforced():
    for msg_type in SCHEMA:
        for name, _kind, _nullable, required in fields_of(msg_type):
            if not required:
                continue
            msg = _valid(msg_type)
            del msg[name]
            assert _message_error(msg) == "%s: missing field '%s'" % (msg_type, name)


def test_every_field_kind_is_enforced():
    for msg_type in SCHEMA:
        for name, kind, _nullable, _required in fields_of(msg_type):
            if kind == "any":
                continue
            base = rule_of(kind)[0]
            msg = _valid(msg_type)
            msg[name] = WRONG[base]
            expected = "%s: field '%s' must be %s" % (msg_type, name, WORDS[base])
            assert _message_error(msg) == expected


def test_null_only_where_allowed():
    for msg_type in SCHEMA:
        for name, _kind, nullable, _required in fields_of(msg_type):
            msg = _valid(msg_type)
            msg[name] = None
            if nullable:
                evwire.validate(msg)
            else:
                assert _message_error(msg) == "%s: field '%s' must not be null" % (msg_type, name)


def test_catalogue_examples_of_the_issue():
    msg = _valid(t.CHARGE_REQUEST)
    del msg["cp_id"]
    assert _message_error(msg) == "charge_request: missing field 'cp_id'"
    msg = _valid(t.CHARGING_DATA)
    msg["energy_consumed_kwh"] = "12.5"
    assert _message_error(msg) == "charging_data: field 'energy_consumed_kwh' must be a number"


def test_ints_count_as_numbers_but_bools_do_not():
    msg = _valid(t.CHARGING_DATA)
    msg["energy_consumed_kwh"] = 12
    evwire.validate(msg)
    msg["timestamp"] = 1.5
    assert _message_error(msg) == "charging_data: field 'timestamp' must be an integer"
    msg["timestamp"] = False
    assert _message_error(msg) == "charging_data: field 'timestamp' must be an integer"


def test_numbers_must_be_finite_and_in_range():
    nan = float("nan")
    inf = float("inf")
    kwh = "charging_data: field 'energy_consumed_kwh' must be a finite number >= 0 and <= 10000000"
    for bad in (nan, inf, -inf, -0.5, 1e300, 10000001):
        msg = _valid(t.CHARGING_DATA)
        msg["energy_consumed_kwh"] = bad
        assert _message_error(msg) == kwh
    for good in (0, 0.0, 10000000, 9999999.5):
        msg = _valid(t.CHARGING_DATA)
        msg["energy_consumed_kwh"] = good
        evwire.validate(msg)
    assert not kind_ok(nan, "num") and not kind_ok(inf, "num") and not kind_ok(-inf, "num")
    assert kind_ok(1e300, "num") and kind_ok(-2, "num")
    msg = _valid(t.SESSION_HISTORY_REQUEST)
    msg["limit"] = 0
    assert _message_error(msg) == \
        "session_history_request: field 'limit' must be an integer >= 1 and <= 10000"


def test_timestamps_in_the_window():
    msg = _valid(t.HEARTBEAT_REQUEST)
    msg["timestamp"] = 946684800  # 2000-01-01: a board whose clock was never set
    evwire.validate(msg)
    for bad in (0, 1, 1700000000000, 4102444801):
        msg["timestamp"] = bad
        assert _message_error(msg) == "heartbeat_request: field 'timestamp' must be an " \
            "integer >= 946684800 and <= 4102444800"


def test_ids_and_texts_are_bounded():
    for bad in ("", "D 1", "D/1", "\u00d1", "x" * 65, "a\nb"):
        msg = _valid(t.CHARGE_REQUEST)
        msg["driver_id"] = bad
        assert _message_error(msg) == \
            "charge_request: field 'driver_id' must be 1-64 of A-Z a-z 0-9 . _ : -"
    msg = _valid(t.CHARGE_REQUEST)
    msg["driver_id"] = "Az09._:-" * 8
    evwire.validate(msg)
    msg = _valid(t.STATUS_UPDATE)
    msg["reason"] = "r" * 512
    evwire.validate(msg)
    msg["reason"] = "r" * 513
    assert _message_error(msg) == \
        "status_update: field 'reason' must be a text string of at most 512 characters"


def test_the_kind_table_is_well_formed():
    from evwire.schema import _KINDS

    assert len(_KINDS) % 4 == 0
    bases = ("str", "int", "num", "bool", "list", "map", "any")
    for i in range(0, len(_KINDS), 4):
        name, base, lo, hi = _KINDS[i:i + 4]
        assert _KINDS.index(name) == i, name  # found at its own row
        assert base in bases and rule_of(name) == (base, lo, hi), name
        assert (lo is None) == (hi is None) and (lo is None or lo <= hi), name
    assert str(raises(ValueError, rule_of, "furlongs")) != ""


def test_good_values_keep_every_rule():
    for kind in GOOD:
        assert kind_ok(GOOD[kind], kind), kind


def test_error_response_never_echoes_a_refused_id():
    reply = evwire.error_response("bad", {"type": "charge_request", "message_id": "a b"})
    assert reply["message_id"] != "a b"
    evwire.validate(reply)


def test_unknown_extra_fields_are_tolerated():
    msg = _valid(t.HEARTBEAT_REQUEST)
    msg["firmware_version"] = "2.1"
    msg["future"] = {"nested": [1, 2]}
    assert evwire.validate(msg) is msg


def test_unknown_type_and_non_maps_are_rejected():
    err = raises(UnknownTypeError, evwire.validate, {"type": "warp_drive", "message_id": "m"})
    assert str(err) == "unknown message type 'warp_drive'"
    assert str(raises(ValidationError, evwire.validate, [1, 2])) == \
        "message must be a map, not list"
    assert str(raises(ValidationError, evwire.validate, "x")) == "message must be a map, not str"
    assert _message_error({"message_id": "m"}) == "message: missing field 'type'"
    assert _message_error({"type": 5, "message_id": "m"}) == "message: missing field 'type'"
    assert _message_error({"type": t.CHARGE_REQUEST}) == \
        "charge_request: missing field 'message_id'"
    assert _message_error({"type": t.CHARGE_REQUEST, "message_id": ""}) == \
        "charge_request: field 'message_id' must be " + ID_RULE


def test_only_whole_type_names_are_known():
    # The catalogue is one text searched by type name: a prefix, a name with
    # a separator or a line break must not match part of a line.
    for name in ("charge", "charge_completion_", "harge_request", "auth_request: cp_id",
                 "mac:str |\nrecovery_notification", "x\nauth_request", "", ":", "|"):
        err = raises(UnknownTypeError, evwire.validate, {"type": name or "?", "message_id": "m"})
        assert str(err) == "unknown message type '%s'" % (name or "?")
        raises(UnknownTypeError, fields_of, name)


def test_schema_table_and_known_types_follow_the_catalogue():
    assert known_types() == sorted(SCHEMA)
    assert t.CHARGE_COMPLETION in SCHEMA and t.CHARGE_COMPLETION_ACK in SCHEMA
    required, optional = SCHEMA[t.STOP_CHARGING_COMMAND]
    assert required == ("cp_id:id", "session_id:id")
    assert "timestamp:ts" in optional
    assert SCHEMA[t.RECOVERY_NOTIFICATION][1] == ()
    assert SCHEMA[t.AUTH_REQUEST][1] == ("cp_id:id", "driver_id:id")
    for msg_type in SCHEMA:
        required, optional = SCHEMA[msg_type]
        fields = fields_of(msg_type)
        assert [f[0] for f in fields] == [spec.split(":")[0] for spec in required + optional]
        assert [f[3] for f in fields] == [True] * len(required) + [False] * len(optional)
    assert fields_of(t.HEALTH_CHECK_RESPONSE)[5] == ("fault_type", "str", True, False)


class _Handlers:
    def __init__(self):
        self.seen = []

    def charge_request(self, msg):
        self.seen.append(msg["message_id"])
        if msg["cp_id"] == "BUSY":
            raise RejectedError("CP BUSY is charging")
        return evwire.success(msg, session_id="S1", cp_id=msg["cp_id"])

    def heartbeat_request(self, msg):
        return None


def _dispatcher():
    handlers = _Handlers()
    return handlers, Dispatcher(handlers, (t.CHARGE_REQUEST, t.HEARTBEAT_REQUEST,
                                           t.STATUS_UPDATE))


def _capture_trace(level="debug"):
    lines = []
    trace.configure(tier="test", level=level, sink=lines.append)
    return lines


def test_dispatcher_calls_the_handler_named_after_the_type():
    lines = _capture_trace()
    try:
        handlers, dispatcher = _dispatcher()
        msg = _valid(t.CHARGE_REQUEST)
        reply = dispatcher.handle(msg)
    finally:
        trace.configure(tier="evcharge", level="info", sink=None)
    assert handlers.seen == [msg["message_id"]]
    assert reply["type"] == t.CHARGE_REQUEST_RESPONSE
    assert reply["message_id"] == msg["message_id"] and reply["status"] == t.SUCCESS
    evwire.validate(reply)
    entry = "enter charge_request id=%s" % msg["message_id"]
    assert [line for line in lines if entry in line]
    assert [line for line in lines if "exit charge_request id=%s -> charge_request_response"
            % msg["message_id"] in line]


def test_dispatch_traces_only_at_debug():
    # At info a routine request costs no line: entry and exit are debug (one
    # request used to write two info lines, docs/INTERNALS.md "Logging").
    lines = _capture_trace("info")
    try:
        handlers, dispatcher = _dispatcher()
        dispatcher.handle(_valid(t.CHARGE_REQUEST))
    finally:
        trace.configure(tier="evcharge", level="info", sink=None)
    assert handlers.seen and lines == []


def test_dispatcher_turns_errors_into_error_response():
    _capture_trace()
    try:
        handlers, dispatcher = _dispatcher()
        bad = _valid(t.CHARGE_REQUEST)
        del bad["driver_id"]
        busy = _valid(t.CHARGE_REQUEST)
        busy["cp_id"] = "BUSY"
        replies = [dispatcher.handle(bad), dispatcher.handle(busy),
                   dispatcher.handle(_valid(t.STATUS_UPDATE)),
                   dispatcher.handle(_valid(t.AUTH_REQUEST)),
                   dispatcher.handle(_valid(t.HEARTBEAT_REQUEST))]
    finally:
        trace.configure(tier="evcharge", level="info", sink=None)
    missing, rejected, no_handler, not_accepted, one_way = replies
    for reply in (missing, rejected, no_handler, not_accepted):
        assert reply["type"] == t.ERROR_RESPONSE and reply["status"] == t.FAILURE
        assert reply["message_id"] == "00000000-0000-4000-8000-000000000001"
        evwire.validate(reply)
    assert missing["error"] == "charge_request: missing field 'driver_id'"
    assert missing["code"] == "validation_error"
    assert missing["request_type"] == t.CHARGE_REQUEST
    assert rejected["error"] == "CP BUSY is charging" and rejected["code"] == "rejected"
    assert no_handler["error"] == "no handler for 'status_update'"
    assert not_accepted["error"] == "unexpected message type 'auth_request' here"
    assert not_accepted["code"] == "unknown_type"
    assert one_way is None
    assert handlers.seen == [busy["message_id"]]


def test_error_response_for_garbage_gets_a_fresh_id():
    lines = _capture_trace()
    try:
        reply = Dispatcher(_Handlers(), (t.CHARGE_REQUEST,)).handle([1, 2])
    finally:
        trace.configure(tier="evcharge", level="info", sink=None)
    assert lines == ["<4>test: rejected message: message must be a map, not list\n"]
    assert reply["type"] == t.ERROR_RESPONSE
    assert reply["error"] == "message must be a map, not list"
    assert len(reply["message_id"]) == 36 and reply["request_type"] is None


def _uuid4_shaped(text):
    if len(text) != 36:
        return False
    for i, ch in enumerate(text):
        if i in (8, 13, 18, 23):
            if ch != "-":
                return False
        elif ch not in "0123456789abcdef":
            return False
    return text[14] == "4" and text[19] in "89ab"


def test_new_message_id_is_uuid4_shaped_and_unique():
    ids = [evwire.new_message_id() for _ in range(200)]
    for mid in ids:
        assert _uuid4_shaped(mid), mid
    assert len(set(ids)) == len(ids)


def test_counter_ids_are_deterministic():
    set_id_source(counter_ids())
    try:
        first = evwire.make(t.CHARGE_REQUEST, cp_id="CP1")["message_id"]
        second = evwire.new_message_id()
    finally:
        set_id_source(None)
    assert first == "00000000-0000-4000-8000-000000000001"
    assert second == "00000000-0000-4000-8000-000000000002"
    assert _uuid4_shaped(first)
    assert evwire.new_message_id() != "00000000-0000-4000-8000-000000000003"


def test_hmac_sha256_fixed_vectors():
    mac = hmac_sha256(b"key", b"The quick brown fox jumps over the lazy dog")
    assert hexlify(mac) == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert auth_mac("s3cret", "CP1", 1700000000, "00112233445566778899aabbccddeeff") == \
        "c8b72153f653eb0a7fc029b779a2ce6ea9de75b232bccf221577f1128faf8795"
    # A key longer than the 64-byte block is hashed first; non-ASCII ids.
    assert auth_mac("k" * 100, "CP-\u00d1", 0, "n") == \
        "98c998abe8904124282b75f52e30e730cde2d2140126e62b667eb327fa479249"


def test_auth_request_is_valid_and_verifiable():
    msg = make_auth_request("CP1", "s3cret", timestamp=1700000000, nonce="ab" * 16)
    evwire.validate(msg)
    expected = auth_mac("s3cret", "CP1", 1700000000, "ab" * 16)
    assert constant_time_equal(msg["mac"], expected)
    assert not constant_time_equal(msg["mac"], auth_mac("other", "CP1", 1700000000, "ab" * 16))
