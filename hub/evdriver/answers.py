"""Judging Central's answers: valid, of the expected type, and successful."""
from __future__ import annotations

import evwire
from evdriver.errors import Refused, RequestFailed
from evwire import types as t


def check_answer(answer: dict, expected_type: str) -> dict:
    """Return a successful answer of `expected_type`; Refused when Central said no,
    RequestFailed when its answer makes no sense, each naming why."""
    try:
        evwire.validate(answer)
    except evwire.ValidationError as exc:
        raise RequestFailed(f"Central sent an invalid answer ({exc})") from exc
    if answer["type"] == t.ERROR_RESPONSE:
        raise Refused(answer.get("message") or answer["error"])
    if answer["type"] != expected_type:
        raise RequestFailed(f"Central answered {answer['type']} instead of {expected_type}")
    if answer.get("status", t.SUCCESS) != t.SUCCESS:
        raise Refused(refusal_text(answer))
    return answer


def refusal_text(answer: dict) -> str:
    """The most specific words Central gave: message, else reason, else error."""
    for field in ("message", "reason", "error"):
        value = answer.get(field)
        if isinstance(value, str) and value:
            return value
    return "refused (no reason given)"
