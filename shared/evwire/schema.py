# The one message catalogue: for each type, its required and optional fields
# with their kinds. Every tier's dispatcher calls validate() (the seed's
# improvement 2). Unknown extra fields are tolerated so newer peers can add
# some. `type` and `message_id` are required on every message and not listed.
#
# Field spec: "name:kind" or "name:kind?" (the trailing ? allows null).
# Kinds: str, int, num (int or float), bool, list, map, any.
from evwire import types as t
from evwire.errors import UnknownTypeError, ValidationError

SCHEMA = {
    # Monitor -> Engine
    t.HEALTH_CHECK_REQUEST: (("id:str",), ("cp_id:str", "timestamp:int")),
    t.START_CHARGING_COMMAND: (
        ("cp_id:str", "session_id:str", "driver_id:str", "price_per_kwh:num",
         "max_charging_rate_kw:num"),
        ("timestamp:int", "connection_timeout_s:num"),
    ),
    t.STOP_CHARGING_COMMAND: (
        ("cp_id:str", "session_id:str"),
        ("timestamp:int", "reason:str"),
    ),
    t.CHARGE_COMPLETION_ACK: (("session_id:str",), ("cp_id:str",)),
    # Engine -> Monitor
    t.HEALTH_CHECK_RESPONSE: (
        ("status:str", "engine_status:str", "is_charging:bool"),
        ("cp_id:str", "vehicle_connected:bool", "fault_type:str?", "meter_energy_kwh:num?",
         "session_id:str?", "waiting_for_vehicle:bool", "timestamp:int"),
    ),
    t.COMMAND_RESPONSE: (
        ("status:str", "message:str", "session_id:str?"),
        ("cp_id:str", "command:str", "waiting_for_vehicle:bool", "timestamp:int", "error:str"),
    ),
    t.CHARGING_DATA: (
        ("cp_id:str", "session_id:str", "energy_consumed_kwh:num", "total_cost:num",
         "charging_rate:num", "timestamp:int"),
        ("driver_id:str", "meter_kwh:num", "created_ms:int", "voltage:num", "current:num",
         "price_per_kwh:num"),
    ),
    t.CHARGE_COMPLETION: (
        ("cp_id:str", "session_id:str", "energy_consumed_kwh:num", "total_cost:num"),
        ("reason:str", "meter_start_kwh:num?", "meter_stop_kwh:num?", "timestamp:int",
         "driver_id:str", "price_per_kwh:num", "started_at:int", "duration_s:num",
         "meter_estimated:bool"),
    ),
    t.ERROR_RESPONSE: (("error:str",), ("status:str", "message:str", "code:str",
                                         "request_type:str?", "cp_id:str")),
    t.LOCAL_CHARGE_REQUEST: (("cp_id:str",), ("driver_id:str", "card_uid:str", "timestamp:int")),
    # Monitor -> Central
    t.AUTH_REQUEST: (("cp_id:str", "timestamp:int", "nonce:str", "mac:str"), ()),
    t.REGISTER_REQUEST: (
        ("cp_id:str", "timestamp:int", "max_charging_rate_kw:num"),
        ("location:str",),
    ),
    t.HEARTBEAT_REQUEST: (("cp_id:str", "status:str", "timestamp:int"), ("session_id:str?",)),
    t.STATUS_UPDATE: (("cp_id:str", "status:str", "timestamp:int"), ("reason:str?",)),
    t.FAULT_NOTIFICATION: (
        ("cp_id:str", "fault_type:str", "timestamp:int"),
        ("session_id:str?", "message:str"),
    ),
    t.RECOVERY_NOTIFICATION: (("cp_id:str", "timestamp:int"), ()),
    # Central -> Monitor
    t.AUTH_RESPONSE: (("status:str", "message:str"), ("reason:str?",)),
    t.REGISTER_RESPONSE: (
        ("status:str", "message:str"),
        ("reason:str?", "cp_status:str", "price_per_kwh:num"),
    ),
    t.HEARTBEAT_RESPONSE: (("status:str",), ("cp_status:str",)),
    t.STOP_CP_COMMAND: (("cp_id:str",), ("reason:str?", "timestamp:int")),
    t.RESUME_CP_COMMAND: (("cp_id:str",), ("timestamp:int",)),
    t.LOCAL_CHARGE_RESPONSE: (
        ("status:str", "message:str", "cp_id:str"),
        ("session_id:str?", "driver_id:str?", "reason:str?"),
    ),
    # Driver -> Central
    t.CHARGE_REQUEST: (("cp_id:str", "driver_id:str", "timestamp:int"), ("expires_at:int",)),
    t.STOP_CHARGING_REQUEST: (
        ("cp_id:str", "session_id:str", "timestamp:int"),
        ("driver_id:str",),
    ),
    t.AVAILABLE_CPS_REQUEST: (("driver_id:str", "timestamp:int"), ()),
    t.SESSION_HISTORY_REQUEST: (("driver_id:str", "timestamp:int"), ("limit:int",)),
    # Central -> Driver
    t.CHARGE_REQUEST_RESPONSE: (
        ("status:str", "message:str", "session_id:str?", "cp_id:str"),
        ("price_per_kwh:num", "reason:str?", "driver_id:str"),
    ),
    t.STOP_CHARGING_RESPONSE: (
        ("status:str", "message:str"), ("session_id:str?", "driver_id:str", "reason:str?")
    ),
    t.AVAILABLE_CPS_RESPONSE: (("charging_points:list",), ("status:str", "driver_id:str")),
    t.SESSION_HISTORY_RESPONSE: (("status:str", "sessions:list"), ("driver_id:str",)),
    t.CHARGING_STATUS_UPDATE: (
        ("session_id:str", "cp_id:str", "status:str", "progress:int"),
        ("driver_id:str", "energy_consumed_kwh:num", "total_cost:num", "message:str",
         "timestamp:int"),
    ),
    t.CHARGE_COMPLETION_NOTIFICATION: (
        ("cp_id:str", "session_id:str", "energy_consumed_kwh:num", "total_cost:num"),
        ("reason:str", "timestamp:int", "driver_id:str"),
    ),
    # Admin -> Central
    t.MANUAL_COMMAND: (
        ("command:str",),
        ("token:str?", "cp_id:str?", "session_id:str?", "reason:str?"),
    ),
    t.MANUAL_COMMAND_RESPONSE: (("status:str", "message:str"), ("data:any", "reason:str?")),
}

_KIND_WORDS = {
    "str": "a text string",
    "int": "an integer",
    "num": "a number",
    "bool": "a boolean",
    "list": "a list",
    "map": "a map",
    "any": "anything",
}

_parsed = {}


def _parse(spec):
    name, kind = spec.split(":")
    nullable = kind.endswith("?")
    if nullable:
        kind = kind[:-1]
    return name, kind, nullable


def fields_of(msg_type):
    """[(name, kind, nullable, required)] for a known type (parsed once, cached)."""
    got = _parsed.get(msg_type)
    if got is None:
        entry = SCHEMA.get(msg_type)
        if entry is None:
            raise UnknownTypeError("unknown message type '%s'" % msg_type)
        got = [_parse(s) + (True,) for s in entry[0]] + [_parse(s) + (False,) for s in entry[1]]
        _parsed[msg_type] = got
    return got


def _kind_ok(value, kind):
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
        if not _kind_ok(value, kind):
            raise ValidationError(
                "%s: field '%s' must be %s" % (msg_type, name, _KIND_WORDS[kind])
            )
    return msg


def known_types():
    return sorted(SCHEMA)
