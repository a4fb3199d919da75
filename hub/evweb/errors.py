"""Errors the API answers with: JSON {"error": text, "reason": code} and a status."""
from __future__ import annotations

import json

from aiohttp import web


class ApiError(Exception):
    def __init__(self, status: int, text: str, reason: str):
        super().__init__(text)
        self.status = status
        self.reason = reason


def unauthorized(text: str, scheme: str = "Bearer") -> ApiError:
    err = ApiError(401, text, "unauthorized")
    err.scheme = scheme  # type: ignore[attr-defined]
    return err


def json_error(status: int, text: str, reason: str, headers: dict | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": text, "reason": reason}),
                        content_type="application/json", headers=headers)


def response_of(err: ApiError) -> web.Response:
    headers = None
    scheme = getattr(err, "scheme", None)
    if err.status == 401 and scheme:
        # Basic makes a browser pop up its own dialog: the driver page signs in itself.
        headers = {"WWW-Authenticate": f'{scheme} realm="evcharge"'}
    return json_error(err.status, str(err), err.reason, headers)
