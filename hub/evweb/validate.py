"""Request bodies and parameters checked with the wire schema's rules (evwire.schema)."""
from __future__ import annotations

import json
import math

from aiohttp import web

from evweb.errors import ApiError
from evwire.schema import ID_RULE, kind_ok

MAX_BODY = 16 * 1024  # every API body is a few fields
MAX_REASON = 200


def ident(value: object, what: str) -> str:
    """An id as the wire schema allows it (cp_id, driver_id, session_id), else 422."""
    if not isinstance(value, str) or not kind_ok(value, "id"):
        raise ApiError(422, f"{what}: must be {ID_RULE}", f"bad_{what}")
    return value


async def body(request: web.Request, allowed: tuple[str, ...], required: tuple[str, ...] = (),
               optional_body: bool = False) -> dict:
    """The JSON object of the request: only `allowed` keys, `required` present, else 422."""
    raw = await request.read()
    if not raw.strip() and optional_body:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "the body must be a JSON object", "bad_json") from None
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object", "bad_json")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ApiError(422, f"unknown field(s): {', '.join(unknown)} (allowed: "
                            f"{', '.join(allowed) or 'none'})", "unknown_field")
    missing = [k for k in required if k not in data]
    if missing:
        raise ApiError(422, f"missing field(s): {', '.join(missing)}", "missing_field")
    return data


def reason(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON or not value.isprintable():
        raise ApiError(422, f"reason: a printable string of at most {MAX_REASON} characters",
                       "bad_reason")
    return value or None


def int_param(request: web.Request, name: str, lo: int, hi: int,
              default: int | None = None) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise ApiError(422, f"{name}: an integer from {lo} to {hi}", f"bad_{name}")
    return value


def finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0
