# Building messages: ids, requests, responses and error_response, per the
# catalogue's conventions (a response echoes the request's message_id).
from evwire import types as t
from evwire.compat import hexlify, unix_time, urandom
from evwire.schema import kind_ok


def uuid4_from_bytes(raw):
    b = bytearray(raw[:16])
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = hexlify(bytes(b))
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def _random_id():
    return uuid4_from_bytes(urandom(16))


_id_source = _random_id


def new_message_id():
    """A UUID4 string (portable: no uuid module on MicroPython)."""
    return _id_source()


def set_id_source(source):
    """Inject an id generator (deterministic tests); None restores random ids."""
    global _id_source
    _id_source = source if source is not None else _random_id


def counter_ids(prefix="00000000-0000-4000-8000-"):
    """An id source yielding ...000000000001, ...002: for exact-byte tests."""
    state = [0]

    def source():
        state[0] += 1
        return "%s%012d" % (prefix, state[0])

    return source


def make(msg_type, message_id=None, **fields):
    """A message of `msg_type` with a fresh (or given) message_id."""
    msg = {"type": msg_type, "message_id": message_id or new_message_id()}
    msg.update(fields)
    return msg


def make_timestamped(msg_type, **fields):
    fields.setdefault("timestamp", unix_time())
    return make(msg_type, **fields)


def response_type_for(request_type):
    """The catalogue's reply type: auth_request -> auth_response, x_command -> command_response."""
    reply = t.REPLY_TYPE.get(request_type)
    if reply is None and request_type.endswith("_command"):
        reply = t.COMMAND_RESPONSE
    return reply


def success(request, response_type=None, message="", **fields):
    rtype = response_type or response_type_for(request["type"])
    return make(rtype, request["message_id"], status=t.SUCCESS, message=message, **fields)


def failure(request, error, response_type=None, **fields):
    rtype = response_type or response_type_for(request["type"])
    fields.setdefault("message", error)
    return make(rtype, request["message_id"], status=t.FAILURE, error=error, **fields)


def error_response(error, request=None, code="protocol_error"):
    """An error_response naming the problem; echoes the request's id if known."""
    message_id = None
    request_type = None
    if isinstance(request, dict):
        # Echo only what the catalogue allows back: a refused message_id or
        # an overlong type must not make the error_response itself invalid.
        mid = request.get("message_id")
        if kind_ok(mid, "id"):
            message_id = mid
        rt = request.get("type")
        if isinstance(rt, str) and len(rt) <= 64:
            request_type = rt
    return make(
        t.ERROR_RESPONSE,
        message_id,
        status=t.FAILURE,
        error=error,
        code=code,
        request_type=request_type,
    )
