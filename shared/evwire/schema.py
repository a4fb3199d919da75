# The one message catalogue: for each type, its required and optional fields
# with their kinds. Every tier's dispatcher calls validate() (the seed's
# improvement 2). Unknown extra fields are tolerated so newer peers can add
# some. `type` and `message_id` are required on every message and not listed.
#
# One line per type:  "type: required fields | optional fields"
# Field spec: "name:kind" or "name:kind?" (the trailing ? allows null).
# Kinds: str, int, num (int or float), bool, list, map, any.
#
# The catalogue is one string, not a table: on MicroPython a dict of tuples
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
    "health_check_request: id:str | cp_id:str timestamp:int\n"
    "start_charging_command: cp_id:str session_id:str driver_id:str price_per_kwh:num"
    " max_charging_rate_kw:num | timestamp:int connection_timeout_s:num\n"
    "stop_charging_command: cp_id:str session_id:str | timestamp:int reason:str\n"
    "charge_completion_ack: session_id:str | cp_id:str\n"
    # Monitor <-> Engine link authentication (mutual challenge-response, link key)
    "link_hello: cp_id:str nonce:str |\n"
    "link_challenge: nonce:str mac:str | cp_id:str\n"
    "link_auth: mac:str |\n"
    "link_auth_response: status:str | message:str\n"
    # Engine -> Monitor
    "health_check_response: status:str engine_status:str is_charging:bool | cp_id:str"
    " vehicle_connected:bool fault_type:str? meter_energy_kwh:num? session_id:str?"
    " waiting_for_vehicle:bool timestamp:int\n"
    "command_response: status:str message:str session_id:str? | cp_id:str command:str"
    " waiting_for_vehicle:bool timestamp:int error:str\n"
    "charging_data: cp_id:str session_id:str energy_consumed_kwh:num total_cost:num"
    " charging_rate:num timestamp:int | driver_id:str meter_kwh:num created_ms:int voltage:num"
    " current:num price_per_kwh:num mac:str\n"
    "charge_completion: cp_id:str session_id:str energy_consumed_kwh:num total_cost:num"
    " | reason:str meter_start_kwh:num? meter_stop_kwh:num? timestamp:int driver_id:str"
    " price_per_kwh:num started_at:int duration_s:num meter_estimated:bool mac:str\n"
    "error_response: error:str | status:str message:str code:str request_type:str? cp_id:str\n"
    "local_charge_request: cp_id:str | driver_id:str card_uid:str timestamp:int\n"
    # Monitor -> Central
    "auth_request: timestamp:int nonce:str mac:str | cp_id:str driver_id:str\n"
    "register_request: cp_id:str timestamp:int max_charging_rate_kw:num | location:str\n"
    "heartbeat_request: cp_id:str status:str timestamp:int | session_id:str?\n"
    "status_update: cp_id:str status:str timestamp:int | reason:str?\n"
    "fault_notification: cp_id:str fault_type:str timestamp:int | session_id:str? message:str\n"
    "recovery_notification: cp_id:str timestamp:int |\n"
    # Central -> Monitor
    "auth_response: status:str message:str | reason:str?\n"
    "register_response: status:str message:str | reason:str? cp_status:str price_per_kwh:num\n"
    "heartbeat_response: status:str | cp_status:str\n"
    "stop_cp_command: cp_id:str | reason:str? timestamp:int\n"
    "resume_cp_command: cp_id:str | timestamp:int\n"
    "local_charge_response: status:str message:str cp_id:str | session_id:str? driver_id:str?"
    " reason:str?\n"
    # Driver -> Central
    "charge_request: cp_id:str driver_id:str timestamp:int | expires_at:int mac:str\n"
    "stop_charging_request: cp_id:str session_id:str timestamp:int | driver_id:str mac:str\n"
    "available_cps_request: driver_id:str timestamp:int | mac:str\n"
    "session_history_request: driver_id:str timestamp:int | limit:int mac:str\n"
    # Central -> Driver
    "charge_request_response: status:str message:str session_id:str? cp_id:str"
    " | price_per_kwh:num reason:str? driver_id:str\n"
    "stop_charging_response: status:str message:str | session_id:str? driver_id:str reason:str?\n"
    "available_cps_response: charging_points:list | status:str driver_id:str\n"
    "session_history_response: status:str sessions:list | driver_id:str\n"
    "charging_status_update: session_id:str cp_id:str status:str progress:int | driver_id:str"
    " energy_consumed_kwh:num total_cost:num message:str timestamp:int\n"
    "charge_completion_notification: cp_id:str session_id:str energy_consumed_kwh:num"
    " total_cost:num | reason:str timestamp:int driver_id:str\n"
    # Admin -> Central
    "manual_command: command:str | token:str? cp_id:str? session_id:str? reason:str?\n"
    "manual_command_response: status:str message:str | data:any reason:str?\n"
    # Central -> Kafka evcharge.dead-letter (a record set aside, with why)
    "dead_letter: reason:str source_topic:str source_partition:int source_offset:int"
    " | key:str? value:any at:int\n"
)

# Kinds in the order of their words; parsed kinds are these very strings.
_KINDS = ("str", "int", "num", "bool", "list", "map", "any")
_KIND_WORDS = ("a text string", "an integer", "a number", "a boolean", "a list", "a map",
               "anything")

_parsed = None if IS_MICROPYTHON else {}  # type -> fields, for the types validated so far


def _line(msg_type):
    """The text after "type:" on the type's line, or None for an unknown type."""
    # A name without ":" or a line break can only match a whole type name.
    if not msg_type or ":" in msg_type or "\n" in msg_type:
        return None
    start = _CATALOGUE.find("\n" + msg_type + ":")
    if start < 0:
        return None
    start += len(msg_type) + 2
    return _CATALOGUE[start:_CATALOGUE.find("\n", start)]


def _types():
    """Every type, in catalogue order."""
    return [line[:line.find(":")] for line in _CATALOGUE.split("\n") if line]


def _specs(line):
    """'a:str b:int? | c:num' -> (("a:str", "b:int?"), ("c:num",))."""
    required, optional = line.split("|")
    return tuple(required.split()), tuple(optional.split())


def _parse(spec, required):
    name, kind = spec.split(":")
    nullable = kind.endswith("?")
    if nullable:
        kind = kind[:-1]
    return name, _KINDS[_KINDS.index(kind)], nullable, required


def fields_of(msg_type):
    """[(name, kind, nullable, required)] for a known type (cached on CPython)."""
    got = None if _parsed is None else _parsed.get(msg_type)
    if got is None:
        line = _line(msg_type) if isinstance(msg_type, str) else None
        if line is None:
            raise UnknownTypeError("unknown message type '%s'" % msg_type)
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


def kind_ok(value, kind):
    """Whether value is of a catalogue kind (str, int, num, bool, list, map, any)."""
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "num":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if kind == "map":
        return isinstance(value, dict)
    return True


def validate(msg):
    """Check a decoded message against the catalogue; return it unchanged.

    Raises ValidationError (UnknownTypeError for an unknown type) whose text
    names the type and the field, e.g. "charge_request: missing field 'cp_id'".
    """
    if not isinstance(msg, dict):
        raise ValidationError("message must be a map, not %s" % type(msg).__name__)
    msg_type = msg.get("type")
    if not isinstance(msg_type, str) or not msg_type:
        raise ValidationError("message: missing field 'type'")
    message_id = msg.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        if "message_id" not in msg:
            raise ValidationError("%s: missing field 'message_id'" % msg_type)
        raise ValidationError("%s: field 'message_id' must be a non-empty text string" % msg_type)
    for name, kind, nullable, required in fields_of(msg_type):
        if name not in msg:
            if required:
                raise ValidationError("%s: missing field '%s'" % (msg_type, name))
            continue
        value = msg[name]
        if value is None:
            if nullable:
                continue
            raise ValidationError("%s: field '%s' must not be null" % (msg_type, name))
        if not kind_ok(value, kind):
            raise ValidationError(
                "%s: field '%s' must be %s" % (msg_type, name, _KIND_WORDS[_KINDS.index(kind)])
            )
    return msg
