"""The one place where a received message meets its handler.

Validation and typed errors become an `error_response` to the sender;
anything unexpected inside a handler is logged in one line and answered
too, so a bad message never ends a link or the daemon. An error_response is
never answered with another (two peers could otherwise echo forever).
"""
from __future__ import annotations

from evmonitor.framed import FramedLink
from evwire import error_response
from evwire import types as t
from evwire.dispatch import Dispatcher
from evwire.errors import WireError
from evwire.trace import log, trace


def handle(dispatcher: Dispatcher, msg: dict, link: FramedLink) -> None:
    try:
        handler = dispatcher.resolve(msg)
    except WireError as exc:
        log("warning", f"{link.name}: rejected message: {exc}")
        _answer(link, msg, error_response(str(exc), msg, exc.code))
        return
    trace("enter", msg)
    try:
        reply = handler(msg)
    except WireError as exc:
        log("warning", f"{msg['type']} id={msg['message_id']} refused: {exc}")
        reply = error_response(str(exc), msg, exc.code)
    except Exception as exc:  # a bug must cost one message, not the link
        log("error", f"{msg['type']} id={msg['message_id']} failed: "
                     f"{type(exc).__name__}: {exc}")
        reply = error_response(f"internal error handling {msg['type']}", msg, "internal_error")
    if reply is not None:
        _answer(link, msg, reply)
    trace("exit", msg, None if reply is None else "-> " + reply["type"])


def _answer(link: FramedLink, msg: dict, reply: dict) -> None:
    if reply["type"] == t.ERROR_RESPONSE and msg.get("type") == t.ERROR_RESPONSE:
        return
    link.send(reply)
