"""GET /api/v1/openapi.json: the API described as OpenAPI 3.1 (kept beside api.py's routes;
tests/web check that every route is described)."""
from __future__ import annotations

ID = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"}
ERROR = {"description": "error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
OPERATOR = [{"bearer": []}, {"console": []}]
DRIVER = [{"basic": []}]


def _json(schema: dict, description: str = "ok") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, security: list | None, ok: dict, errors: tuple[int, ...] = (401,),
        params: list | None = None, body: dict | None = None, ok_status: str = "200") -> dict:
    op: dict = {"summary": summary, "responses": {ok_status: ok}}
    for status in errors:
        op["responses"][str(status)] = ERROR
    if security is not None:
        op["security"] = security
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {
            "schema": body}}}
    return op


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _query(name: str, schema: dict, text: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": text}


def spec() -> dict:
    cp_list = {"type": "array", "items": {"$ref": "#/components/schemas/ChargePoint"}}
    sessions = {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}
    action = {"$ref": "#/components/schemas/Action"}
    reason = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 200}},
              "additionalProperties": False}
    unix = {"type": "integer", "minimum": 0}
    return {
        "openapi": "3.1.0",
        "info": {"title": "evcharge Central REST API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/openapi.json": {"get": _op("this document", None, _json({"type": "object"}), ())},
            "/login": {"post": _op("console sign-in with the admin token: sets the HttpOnly "
                                   "SameSite=Strict session cookie, returns the CSRF token "
                                   "to send as X-CSRF-Token", None,
                                   _json({"type": "object", "properties": {
                                       "csrf": {"type": "string"}}}), (401, 403, 422),
                                   body={"type": "object", "required": ["token"],
                                         "properties": {"token": {"type": "string"}}})},
            "/logout": {"post": _op("end the console session", OPERATOR,
                                    _json({"type": "object"}))},
            "/session": {"get": _op("the console session's CSRF token", None,
                                    _json({"type": "object"}))},
            "/live": {"get": _op("WebSocket: a snapshot of every CP, then the changed CPs "
                                 "every 0.2 s at most", OPERATOR,
                                 {"description": "101 Switching Protocols"}, (401, 403))},
            "/cps": {"get": _op("every charge point", OPERATOR, _json(cp_list))},
            "/cps/{cp_id}": {"get": _op("one charge point", OPERATOR,
                                        _json({"$ref": "#/components/schemas/ChargePoint"}),
                                        (401, 404, 422), [_path("cp_id")])},
            "/cps/{cp_id}/stop": {"post": _op("out of service (\"Out of order\"); its "
                                              "session is stopped", OPERATOR, _json(action),
                                              (401, 403, 404, 422), [_path("cp_id")], reason)},
            "/cps/{cp_id}/resume": {"post": _op("back in service", OPERATOR, _json(action),
                                                (401, 403, 404, 422), [_path("cp_id")])},
            "/stop-all": {"post": _op("stop every charge point", OPERATOR, _json(action),
                                      (401, 403, 422), body=reason)},
            "/resume-all": {"post": _op("resume every charge point", OPERATOR,
                                        _json(action), (401, 403, 422))},
            "/sessions": {"get": _op("sessions, newest first", OPERATOR, _json(sessions),
                                     (401, 422), [
                                         _query("cp", ID, "only this charge point"),
                                         _query("driver", ID, "only this driver"),
                                         _query("since", unix, "started at or after (Unix s)"),
                                         _query("until", unix, "started at or before (Unix s)"),
                                         _query("limit", {"type": "integer", "minimum": 1,
                                                          "maximum": 1000}, "default 200")])},
            "/sites": {"get": _op("sites: power limit, live total kW and each CP's share (kW)",
                                  OPERATOR, _json({"type": "array",
                                                   "items": {"type": "object"}}))},
            "/drivers": {"get": _op("provisioned drivers", OPERATOR,
                                    _json({"type": "array", "items": {"type": "object"}}))},
            "/audit": {"get": _op("the audit trail, oldest first", OPERATOR,
                                  _json({"type": "array", "items": {"type": "object"}}),
                                  (401, 422), [
                                      _query("limit", {"type": "integer", "minimum": 1,
                                                       "maximum": 1000}, "default 100"),
                                      _query("since", unix, "at or after (Unix s)")])},
            "/available-cps": {"get": _op("charge points with their state and price", DRIVER,
                                          _json(cp_list))},
            "/me/sessions": {"get": _op("the driver's own sessions, newest first (a "
                                        "finalised one is its ticket)", DRIVER,
                                        _json(sessions), (401, 422))},
            "/charge": {"post": _op("start charging at a charge point", DRIVER,
                                    _json({"type": "object"}, "session authorised"),
                                    (401, 404, 409, 422),
                                    body={"type": "object", "required": ["cp_id"],
                                          "properties": {"cp_id": ID}},
                                    ok_status="201")},
            "/sessions/{session_id}/stop": {"post": _op(
                "stop the driver's own session (the ticket follows)", DRIVER,
                _json({"type": "object"}, "stop requested"), (401, 403, 404, 409, 422),
                [_path("session_id")], ok_status="202")},
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "Central's admin token"},
                "console": {"type": "apiKey", "in": "cookie", "name": "evweb_session",
                            "description": "after /login; POSTs also need X-CSRF-Token"},
                "basic": {"type": "http", "scheme": "basic",
                          "description": "driver id and driver secret"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"}, "reason": {"type": "string"}}},
                "Action": {"type": "object", "properties": {"message": {"type": "string"}}},
                "ChargePoint": {"type": "object",
                                "required": ["cp_id", "state", "location", "price_per_kwh",
                                             "max_kw"],
                                "properties": {
                                    "cp_id": ID,
                                    "state": {"enum": ["AVAILABLE", "CHARGING", "STOPPED",
                                                       "FAULTED", "DISCONNECTED"]},
                                    "location": {"type": "string"},
                                    "price_per_kwh": {"type": "number"},
                                    "max_kw": {"type": "number"},
                                    "session_id": {"type": "string"},
                                    "driver_id": {"type": "string"},
                                    "power_kw": {"type": "number"},
                                    "energy_kwh": {"type": "number"},
                                    "cost": {"type": "number"}}},
                "Session": {"type": "object", "properties": {
                    "session_id": {"type": "string"}, "cp_id": ID, "driver_id": ID,
                    "status": {"type": "string"},
                    "energy_consumed_kwh": {"type": "number"},
                    "total_cost": {"type": "number"}, "reason": {"type": ["string", "null"]},
                    "started_at": {"type": "integer"},
                    "ended_at": {"type": ["integer", "null"]},
                    "finalised": {"type": "boolean"}}},
            },
        },
    }
