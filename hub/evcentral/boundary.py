"""The one boundary where a message meets its handler and errors become replies.

The first message on a channel says who is talking (auth_request naming
cp_id: a Monitor, auth_request naming driver_id: a Driver, manual_command: an
operator); from then on only that peer's message types are accepted. A driver
request on a connection that has not authenticated reaches the driver
handlers, which refuse it. Validation, routing and handler
failures all end here as an error_response naming the problem, and the
channel stays usable.
"""
from __future__ import annotations

import traceback

from evcentral.admin_handlers import ADMIN_TYPES, AdminHandlers
from evcentral.cp_handlers import MONITOR_TYPES, CpHandlers
from evcentral.driver_handlers import DRIVER_TYPES, DriverHandlers
from evcentral.registry import Channel
from evcentral.store.errors import TRANSIENT_ERRORS
from evwire import error_response, validate
from evwire import types as t
from evwire.dispatch import Dispatcher
from evwire.errors import RejectedError, UnknownTypeError, WireError
from evwire.trace import log, trace

ROLE_MONITOR = "monitor"
ROLE_DRIVER = "driver"
ROLE_ADMIN = "admin"


class Router:
    def __init__(self, monitor: CpHandlers, driver: DriverHandlers, admin: AdminHandlers):
        self.dispatchers = {
            ROLE_MONITOR: Dispatcher(monitor, MONITOR_TYPES),
            ROLE_DRIVER: Dispatcher(driver, (t.AUTH_REQUEST, *DRIVER_TYPES)),
            ROLE_ADMIN: Dispatcher(admin, ADMIN_TYPES),
        }
        self.role_of_type = {msg_type: role for role, d in self.dispatchers.items()
                             for msg_type in d.accepts}

    def resolve(self, msg: dict, channel: Channel):
        """The bound handler for msg on this channel; raises WireError."""
        if not isinstance(msg.get("type"), str):
            validate(msg)  # raises, naming the bad 'type' (a map there is unhashable below)
        role = self._auth_role(msg, channel) if msg.get("type") == t.AUTH_REQUEST \
            else channel.role or self.role_of_type.get(msg.get("type"))
        if role is None:
            validate(msg)  # names a missing field or an unknown type precisely
            raise UnknownTypeError(f"unexpected message type '{msg['type']}': a connection "
                                   "starts with auth_request, manual_command or a driver request")
        try:
            handler = self.dispatchers[role].resolve(msg)
        except UnknownTypeError as exc:
            if "unknown message type" in str(exc):
                raise
            raise UnknownTypeError(f"unexpected message type '{msg['type']}' on a {role} "
                                   "connection") from None
        channel.role = role
        return handler

    @staticmethod
    def _auth_role(msg: dict, channel: Channel) -> str:
        """auth_request names cp_id (a Monitor) or driver_id (a Driver), never both."""
        has_cp, has_driver = "cp_id" in msg, "driver_id" in msg
        if has_cp == has_driver:
            validate(msg)
            raise RejectedError("auth_request must name either cp_id (a charge point) or "
                                "driver_id (a driver), exactly one")
        role = ROLE_DRIVER if has_driver else ROLE_MONITOR
        if channel.role is not None and channel.role != role:
            raise UnknownTypeError(f"unexpected {role} auth_request on a {channel.role} "
                                   "connection")
        return role


async def dispatch(router: Router, msg: dict, channel: Channel) -> None:
    """Handle one message from a channel; every outcome that needs a reply gets one."""
    try:
        handler = router.resolve(msg, channel)
    except WireError as exc:
        log("warning", f"rejected message: {exc}")
        channel.send(error_response(str(exc), msg, exc.code))
        return
    trace("enter", msg)
    try:
        reply = await handler(msg, channel)
    except WireError as exc:
        log("warning", f"{msg['type']} id={msg['message_id']} failed: {exc}")
        reply = error_response(str(exc), msg, exc.code)
    except Exception as exc:  # a bug must cost one reply, not the connection or Central
        if isinstance(exc, TRANSIENT_ERRORS) and getattr(channel, "retries", False):
            # A busy database on a request read from Kafka: its batch is retried (the
            # request is idempotent by message_id) rather than the request lost.
            raise
        log("error", f"{msg['type']} id={msg['message_id']} crashed: {exc!r}\n"
                     + traceback.format_exc())
        reply = error_response(f"internal error while handling {msg['type']}", msg,
                               "internal_error")
    if reply is not None:
        channel.send(reply)
    trace("exit", msg, None if reply is None else "-> " + reply.get("type", "?"))
