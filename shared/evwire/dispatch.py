# Dispatch from the one catalogue: validate, find the handler named after the
# message type, trace entry and exit, and turn a typed error into an
# error_response at this one boundary. Sync handlers use handle(); async
# tiers call resolve() and run the handler themselves (see evwire docs).
from evwire.errors import UnknownTypeError, WireError
from evwire.messages import error_response
from evwire.schema import validate
from evwire.trace import log, trace


class Dispatcher:
    """handlers: an object with one method per accepted type, named after it.

    accepts: the message types this tier receives; anything else is refused
    with an error_response even if it is a valid catalogue type.
    """

    def __init__(self, handlers, accepts):
        self.handlers = handlers
        self.accepts = accepts

    def resolve(self, msg):
        """Validate and return the bound handler; raises WireError."""
        validate(msg)
        msg_type = msg["type"]
        if msg_type not in self.accepts:
            raise UnknownTypeError("unexpected message type '%s' here" % msg_type)
        handler = getattr(self.handlers, msg_type, None)
        if handler is None:
            raise UnknownTypeError("no handler for '%s'" % msg_type)
        return handler

    def handle(self, msg):
        """Run the handler; return its reply (or None), or an error_response."""
        try:
            handler = self.resolve(msg)
        except WireError as exc:
            log("warning", "rejected message: %s" % exc)
            return error_response(str(exc), msg, exc.code)
        trace("enter", msg)
        try:
            reply = handler(msg)
        except WireError as exc:
            log("warning", "%s id=%s failed: %s" % (msg["type"], msg["message_id"], exc))
            reply = error_response(str(exc), msg, exc.code)
        trace("exit", msg, None if reply is None else "-> " + reply.get("type", "?"))
        return reply


def error_response_for(exc, msg=None):
    code = getattr(exc, "code", "protocol_error")
    return error_response(str(exc), msg, code)
