# The one message catalogue: for each type, its required and optional fields
# with their kinds. Every tier's dispatcher calls validate() (the seed's
# improvement 2). Unknown extra fields are tolerated so newer peers can add
# some. `type` and `message_id` are required on every message and not listed.
#
# One line per type:  "type: required fields | optional fields"
# Field spec: "name:kind" or "name:kind?" (the trailing ? allows null).
# Kinds: str, int, num (int or float), bool, list, map, any, and the named
# kinds of _RULES below (id, txt, kwh, money, kw, price, ts, ...), which add
# bounds: every number finite and in range, every text and list bounded.
#
# The catalogue is two strings, not a table (the Engine's link here, the
# hub's types in evwire/schema_host.py): on MicroPython a dict of tuples
# of strings costs about 18 KB of heap, this text about 3 KB. A type's line is
# parsed when a message of that type is validated; CPython keeps the parsed
# fields (Central validates thousands of messages a second), MicroPython does
# not (they would hold about 500 bytes of RAM per type for good, while parsing
# again costs well under a millisecond and the Engine validates a few
# messages a second). SCHEMA, the whole catalogue as a dict {type: (required
# specs, optional specs)}, is built on first use for the tools and tests that
# want it.
from evwire.compat import IS_MICROPYTHON
from evwire.errors import UnknownTypeError, ValidationError

_CATALOGUE = (
    "\n"
    # Monitor -> Engine
    "health_check_request: id:id | cp_id:id timestamp:ts\n"
    "start_charging_command: cp_id:id session_id:id driver_id:id price_per_kwh:price"
    " max_charging_rate_kw:kw | timestamp:ts connection_timeout_s:secs\n"
    "stop_charging_command: cp_id:id session_id:id | timestamp:ts reason:txt\n"
    "charge_completion_ack: session_id:id | cp_id:id\n"
    "set_charging_limit: cp_id:id limit_kw:kw | session_id:id? hold_s:secs site_id:id?"
    " timestamp:ts\n"
    # Monitor <-> Engine link authentication (mutual challenge-response, link key)
    "link_hello: cp_id:id nonce:id |\n"
    "link_challenge: nonce:id mac:str | cp_id:id\n"
    "link_auth: mac:str |\n"
    "link_auth_response: status:str | message:txt\n"
    # Engine -> Monitor
    "health_check_response: status:str engine_status:str is_charging:bool | cp_id:id"
    " vehicle_connected:bool fault_type:str? meter_energy_kwh:kwh? session_id:id?"
    " waiting_for_vehicle:bool timestamp:ts limit_kw:kw\n"
    "command_response: status:str message:txt session_id:id? | cp_id:id command:str"
    " waiting_for_vehicle:bool timestamp:ts error:txt\n"
    "charging_data: cp_id:id session_id:id energy_consumed_kwh:kwh total_cost:money"
    " charging_rate:kw timestamp:ts | driver_id:id meter_kwh:kwh created_ms:ms voltage:volts"
    " current:amps price_per_kwh:price limit_kw:kw mac:str offline:bool started_at:ts\n"
    "charge_completion: cp_id:id session_id:id energy_consumed_kwh:kwh total_cost:money"
    " | reason:txt meter_start_kwh:kwh? meter_stop_kwh:kwh? timestamp:ts driver_id:id"
    " price_per_kwh:price started_at:ts duration_s:secs meter_estimated:bool mac:str"
    " offline:bool\n"
    "error_response: error:txt | status:str message:txt code:str request_type:str? cp_id:id\n"
    "local_charge_request: cp_id:id | driver_id:id card_uid:id timestamp:ts\n"
    # ... and the hub's types (Monitor <-> Central, Driver, Admin, Kafka records)
    # in evwire/schema_host.py, which MicroPython reads only when asked.
)

# Kinds: the base kinds str, int, num (int or float), bool, list, map, any,
# and named kinds, each a base kind with bounds (docs/WIRE.md, "Ranges"):
# a number must be finite and within the bounds; a text's length (an id's
# too, whose characters are A-Z a-z 0-9 . _ : -) and a list's or map's items
# at most the highest. One flat tuple, four items a kind (name, base, lowest,
# highest): on MicroPython a dict of tuples held 1.9 KB of heap, this 0.7 KB,
# and a lookup is one index(). The base kinds come first, so a name's first
# occurrence is its own row.
_KINDS = (
    "str", "str", 0, 256,
    "int", "int", None, None,
    "num", "num", None, None,
    "bool", "bool", None, None,
    "list", "list", 0, 10000,
    "map", "map", 0, 1000,
    "any", "any", None, None,
    "txt", "str", 0, 512,  # reasons, messages, errors
    "id", "str", 1, 64,
    "kwh", "num", 0, 10000000,  # energy: a meter register, kWh
    "money", "num", 0, 1000000,  # a session's cost
    "kw", "num", 0, 1000,
    "price", "num", 0, 100,  # per kWh
    "amps", "num", 0, 1000,
    "volts", "num", 0, 1500,
    "secs", "num", 0, 31536000,  # durations and timeouts: at most a year
    "ts", "int", 946684800, 4102444800,  # Unix seconds, 2000-01-01 .. 2100-01-01
    "ms", "int", 946684800000, 4102444800000,  # the same in milliseconds
    "pct", "int", 0, 100,
    "lim", "int", 1, 10000,  # how many items a request asks for
    "nat", "int", 0, 9223372036854775807,  # Kafka partitions, offsets
)


def _rule(kind):
    i = _KINDS.index(kind)  # ValueError for an unknown kind
    return _KINDS[i + 1], _KINDS[i + 2], _KINDS[i + 3]


# kind -> (base, lowest, highest) on CPython (Central validates thousands of
# messages a second); MicroPython reads the table each time.
_RULES = None if IS_MICROPYTHON else {kind: _rule(kind) for kind in _KINDS[::4]}
_WORDS = {"str": "a text string", "int": "an integer", "num": "a number", "bool": "a boolean",
          "list": "a list", "map": "a map"}
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
ID_RULE = "1-64 of A-Z a-z 0-9 . _ : -"

if IS_MICROPYTHON:
    _HOST = None
else:
    from evwire.schema_host import TEXT as _HOST

_parsed = None if IS_MICROPYTHON else {}  # type -> fields, for the types validated so far


def _host_text():
    """The hub-only lines (evwire/schema_host.py): held on CPython; read and
    let go again on MicroPython, so the Engine keeps none of that text."""
    if _HOST is not None:
        return _HOST
    import sys

    from evwire import schema_host
    text = schema_host.TEXT
    del sys.modules["evwire.schema_host"]
    package = sys.modules.get("evwire")
    if package is not None and "schema_host" in package.__dict__:
        delattr(package, "schema_host")
    return text


def _find(text, msg_type):
    start = text.find("\n" + msg_type + ":")
    if start < 0:
        return None
    start += len(msg_type) + 2
    return text[start:text.find("\n", start)]


def _line(msg_type):
    """The text after "type:" on the type's line, or None for an unknown type."""
    # A name without ":" or a line break can only match a whole type name.
    if not msg_type or ":" in msg_type or "\n" in msg_type:
        return None
    found = _find(_CATALOGUE, msg_type)
    return found if found is not None else _find(_host_text(), msg_type)


def _types():
    """Every type, in catalogue order."""
    return [line[:line.find(":")] for line in (_CATALOGUE + _host_text()).split("\n") if line]


def _specs(line):
    """'a:str b:int? | c:num' -> (("a:str", "b:int?"), ("c:num",))."""
    required, optional = line.split("|")
    return tuple(required.split()), tuple(optional.split())


def _parse(spec, required):
    name, kind = spec.split(":")
    nullable = kind.endswith("?")
    if nullable:
        kind = kind[:-1]
    if _RULES is not None and kind not in _RULES:  # CPython parses each line once
        raise ValueError("unknown kind '%s' in the catalogue" % kind)
    return name, kind, nullable, required


def fields_of(msg_type):
    """[(name, kind, nullable, required)] for a known type (cached on CPython)."""
    got = None if _parsed is None else _parsed.get(msg_type)
    if got is None:
        line = _line(msg_type) if isinstance(msg_type, str) else None
        if line is None:
            # At most 64 characters of it: the text goes into replies and logs.
            raise UnknownTypeError("unknown message type '%s'" % (
                msg_type[:64] if isinstance(msg_type, str) else msg_type))
        required, optional = _specs(line)
        got = [_parse(s, True) for s in required] + [_parse(s, False) for s in optional]
        if _parsed is not None:
            _parsed[msg_type] = got
    return got


def known_types():
    return sorted(_types())


def __getattr__(name):
    # SCHEMA is built only when asked for (tools, tests): see the top.
    if name != "SCHEMA":
        raise AttributeError("module 'evwire.schema' has no attribute '%s'" % name)
    schema = {}
    for msg_type in _types():
        schema[msg_type] = _specs(_line(msg_type))
    globals()["SCHEMA"] = schema
    return schema


def rule_of(kind):
    """(base kind, lowest, highest) of a catalogue kind (see _KINDS)."""
    # ValueError for an unknown kind, on both interpreters
    return _rule(kind) if _RULES is None or kind not in _RULES else _RULES[kind]


def broken_rule(value, kind):
    """None if value keeps the kind's rule, else what the rule asks for, as
    the words after "must be" (e.g. "a finite number >= 0 and <= 1000")."""
    base, lo, hi = rule_of(kind)
    if base == "str":
        if not isinstance(value, str):
            return "a text string"
        if kind == "id":
            # strip() leaves what is not an id character: one C call, both interpreters.
            if not 0 < len(value) <= hi or value.strip(_ID_CHARS):
                return ID_RULE
        elif len(value) > hi:
            return "a text string of at most %d characters" % hi
        return None
    if base == "num" or base == "int":
        if isinstance(value, bool) or not isinstance(value, int if base == "int" else (int, float)):
            return _WORDS[base]
        # x - x is 0 for every finite x, NaN for NaN and the infinities.
        if isinstance(value, float) and value - value != 0 or lo is not None and not (
                lo <= value <= hi):
            if lo is None:
                return "a finite number"
            return "%s >= %d and <= %d" % (
                "a finite number" if base == "num" else "an integer", lo, hi)
        return None
    if base == "bool":
        return None if isinstance(value, bool) else "a boolean"
    if base == "list" or base == "map":
        if not isinstance(value, list if base == "list" else dict):
            return _WORDS[base]
        if len(value) > hi:
            return "%s of at most %d %s" % (_WORDS[base], hi,
                                            "items" if base == "list" else "entries")
    return None


def kind_ok(value, kind):
    """Whether value keeps a catalogue kind's rule (str, int, num, ..., id, kwh, ts, ...)."""
    return broken_rule(value, kind) is None


def validate(msg):
    """Check a decoded message against the catalogue; return it unchanged.

    Raises ValidationError (UnknownTypeError for an unknown type) whose text
    names the type, the field and the rule, e.g. "charge_request: missing
    field 'cp_id'", "charging_data: field 'energy_consumed_kwh' must be a
    finite number >= 0 and <= 10000000".
    """
    if not isinstance(msg, dict):
        raise ValidationError("message must be a map, not %s" % type(msg).__name__)
    msg_type = msg.get("type")
    if not isinstance(msg_type, str) or not msg_type:
        raise ValidationError("message: missing field 'type'")
    if "message_id" not in msg:
        raise ValidationError("%s: missing field 'message_id'" % msg_type[:64])
    fields = fields_of(msg_type)
    rules = _RULES
    broken = broken_rule(msg["message_id"], "id")
    if broken is not None:
        raise ValidationError("%s: field 'message_id' must be %s" % (msg_type, broken))
    for name, kind, nullable, required in fields:
        if name not in msg:
            if required:
                raise ValidationError("%s: missing field '%s'" % (msg_type, name))
            continue
        value = msg[name]
        if value is None:
            if nullable:
                continue
            raise ValidationError("%s: field '%s' must not be null" % (msg_type, name))
        # Fast acceptance of the usual values; anything else (and every refusal)
        # goes through broken_rule(), the one place that words the rules.
        base, lo, hi = _rule(kind) if rules is None else rules[kind]
        vt = type(value)
        if base == "str":
            if vt is str and len(value) <= hi and (kind != "id" or (
                    value and not value.strip(_ID_CHARS))):
                continue
        elif lo is not None and (vt is int or vt is float and base == "num"):
            if lo <= value <= hi:
                continue
        broken = broken_rule(value, kind)
        if broken is not None:
            raise ValidationError("%s: field '%s' must be %s" % (msg_type, name, broken))
    return msg
