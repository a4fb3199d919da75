"""OCPP-J frames checked before the ocpp package sees them.

The package logs and drops a frame it cannot unpack, and a call whose action
is not a string makes its router raise. Here every frame is judged first: a
call that cannot be routed is answered with the proper CALLERROR (OCPP-J 4.2.3,
the unique id "-1" when none can be read, as OCPP 2.0.1 says), a result that
answers nothing we asked is dropped, and only well-formed frames go on.
"""
from __future__ import annotations

import json

CALL, CALLRESULT, CALLERROR = 2, 3, 4
MAX_ID = 36  # OCPP-J: the unique id is at most 36 characters
UNKNOWN_ID = "-1"


class BadFrame(Exception):
    def __init__(self, unique_id: str, code: str, text: str):
        super().__init__(text)
        self.unique_id = unique_id
        self.code = code


def call_error(unique_id: str, code: str, text: str) -> str:
    return json.dumps([CALLERROR, unique_id, code, text[:200], {}])


def check(raw: str | bytes) -> list:
    """The decoded frame, or BadFrame naming the CALLERROR to answer with."""
    if isinstance(raw, bytes):
        raise BadFrame(UNKNOWN_ID, "FormationViolation", "OCPP-J frames are text, not binary")
    try:
        frame = json.loads(raw)
    except ValueError:
        raise BadFrame(UNKNOWN_ID, "FormationViolation", "frame is not valid JSON") from None
    if not isinstance(frame, list) or not frame:
        raise BadFrame(UNKNOWN_ID, "FormationViolation", "frame must be a JSON array")
    kind = frame[0]
    unique_id = frame[1] if len(frame) > 1 and _good_id(frame[1]) else UNKNOWN_ID
    if kind == CALL:
        if len(frame) != 4:
            raise BadFrame(unique_id, "ProtocolError",
                           "a CALL is [2, uniqueId, action, payload]")
        if unique_id == UNKNOWN_ID:
            raise BadFrame(UNKNOWN_ID, "ProtocolError",
                           f"uniqueId must be a string of 1-{MAX_ID} characters")
        if not isinstance(frame[2], str) or not frame[2]:
            raise BadFrame(unique_id, "ProtocolError", "action must be a string")
        if not isinstance(frame[3], dict):
            raise BadFrame(unique_id, "FormationViolation", "payload must be a JSON object")
        return frame
    if kind in (CALLRESULT, CALLERROR):
        return frame  # judged by shape in result_ok; never answered
    raise BadFrame(unique_id, "ProtocolError", f"unknown messageTypeId {str(kind)[:20]}")


def result_ok(frame: list) -> bool:
    if frame[0] == CALLRESULT:
        return len(frame) == 3 and _good_id(frame[1]) and isinstance(frame[2], dict)
    return (len(frame) == 5 and _good_id(frame[1]) and isinstance(frame[2], str)
            and isinstance(frame[3], str) and isinstance(frame[4], dict))


def _good_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID
