# Typed protocol errors. Handlers raise them; the one boundary in each tier
# turns them into an `error_response` (see dispatch.error_response_for).


class WireError(Exception):
    """Base of every problem with a message; str(e) names the problem."""

    code = "protocol_error"


class ValidationError(WireError):
    code = "validation_error"


class UnknownTypeError(ValidationError):
    code = "unknown_type"


class DecodeError(WireError):
    code = "decode_error"


class RejectedError(WireError):
    """The message was valid but the receiver refuses it (not authorised, busy...)."""

    code = "rejected"
