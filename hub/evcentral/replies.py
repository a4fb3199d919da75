"""Replies to Central's requests (evwire picks the catalogue's reply type)."""
from __future__ import annotations

from evwire import failure, success


def ok(request: dict, message: str = "", **fields) -> dict:
    return success(request, None, message, **fields)


def refused(request: dict, text: str, reason: str, **fields) -> dict:
    """A failure reply; `reason` is a short code, `message` and `error` the text."""
    return failure(request, text, None, reason=reason, **fields)
