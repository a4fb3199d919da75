"""The REST API's handlers: thin adapters from HTTP to Central's own services
(registry, ChargeDesk, Sessions, evcentral.operations), so each rule lives in one
place whatever face the request came through. Errors leave as ApiError and are
turned into JSON by server.py's middleware."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from aiohttp import web

from evcentral import operations
from evcentral.audit import MAX_TEXT
from evcentral.charging import (
    ALREADY_ENDED,
    NOT_YOUR_SESSION,
    UNKNOWN_CP,
    UNKNOWN_SESSION,
    ChargeDesk,
    ChargeRefused,
)
from evcentral.config import Hub
from evcentral.registry import ChargePoint
from evcentral.relay import forward_for_web
from evweb import validate
from evweb.auth import COOKIE, WebAuth, address_of
from evweb.errors import ApiError
from evweb.live import LiveFeed
from evweb.openapi import spec
from evweb.views import cp_json, session_json
from evwire import make
from evwire import types as t
from evwire.compat import unix_time

MAX_SESSIONS_LISTED = 1000
AUDIT_MAX = 1000
STATUS_OF_REFUSAL = {UNKNOWN_CP: 404, UNKNOWN_SESSION: 404, NOT_YOUR_SESSION: 403,
                     ALREADY_ENDED: 409}


class Api:
    def __init__(self, hub: Hub, auth: WebAuth, live: LiveFeed):
        self.hub = hub
        self.auth = auth
        self.live = live
        self.desk = ChargeDesk(hub)
        self.secure_cookie = hub.config.ssl_context is not None

    def routes(self) -> list[web.RouteDef]:
        p = "/api/v1"
        return [
            web.get(f"{p}/openapi.json", self.openapi),
            web.post(f"{p}/login", self.login), web.post(f"{p}/logout", self.logout),
            web.get(f"{p}/session", self.console_session),
            web.get(f"{p}/live", self.live_socket),
            web.get(f"{p}/cps", self.list_cps), web.get(f"{p}/cps/{{cp_id}}", self.get_cp),
            web.post(f"{p}/cps/{{cp_id}}/stop", self.stop_cp),
            web.post(f"{p}/cps/{{cp_id}}/resume", self.resume_cp),
            web.post(f"{p}/stop-all", self.stop_all), web.post(f"{p}/resume-all", self.resume_all),
            web.get(f"{p}/sessions", self.sessions), web.get(f"{p}/drivers", self.drivers),
            web.get(f"{p}/audit", self.audit), web.get(f"{p}/sites", self.sites),
            web.get(f"{p}/available-cps", self.available_cps),
            web.get(f"{p}/me/sessions", self.my_sessions), web.post(f"{p}/charge", self.charge),
            web.post(f"{p}/sessions/{{session_id}}/stop", self.stop_session),
        ]

    async def openapi(self, _request: web.Request) -> web.Response:
        return web.json_response(spec())

    # -- the console's sign-in ---------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        data = await validate.body(request, ("token",), ("token",))
        token = data["token"]
        if not isinstance(token, str) or len(token) > 512:
            raise ApiError(422, "token: a string", "bad_token")
        await self.auth.check_token(request, token)
        cookie, csrf = self.auth.consoles.create()
        self.hub.audit.record(address_of(request), "admin(web)", "console sign-in", "ok")
        response = web.json_response({"csrf": csrf})
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="Strict", path="/",
                            secure=self.secure_cookie)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        self.auth.consoles.drop(request.cookies.get(COOKIE))
        response = web.json_response({"signed_out": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def console_session(self, request: web.Request) -> web.Response:
        """The console's CSRF token after a reload (readable by same-origin pages only)."""
        csrf = self.auth.consoles.csrf_of(request.cookies.get(COOKIE))
        if csrf is None:
            raise ApiError(401, "not signed in", "unauthorized")
        return web.json_response({"csrf": csrf})

    async def live_socket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            # A cookie rides along on any site's WebSocket: only our own pages may use it.
            raise ApiError(403, "cross-origin WebSocket refused", "bad_origin")
        await self.auth.operator(request)
        return await self.live.serve(request)

    # -- operator -------------------------------------------------------------------------
    async def list_cps(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        self.hub.registry.refresh()
        return web.json_response([cp_json(self.hub, cp)
                                  for _id, cp in sorted(self.hub.registry.cps.items())])

    async def get_cp(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        return web.json_response(cp_json(self.hub, self._cp(request)))

    async def stop_cp(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        cp = self._cp(request)
        data = await validate.body(request, ("reason",), optional_body=True)
        reason = validate.reason(data.get("reason"))
        text = operations.stop_cp(self.hub, cp, reason)
        self._audit(request, f"stop_cp {cp.cp_id}" + (f" (reason: {reason})" if reason else ""),
                    text)
        return web.json_response({"message": text, "cp": cp_json(self.hub, cp)})

    async def resume_cp(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        cp = self._cp(request)
        await validate.body(request, (), optional_body=True)
        text = operations.resume_cp(self.hub, cp)
        self._audit(request, f"resume_cp {cp.cp_id}", text)
        return web.json_response({"message": text, "cp": cp_json(self.hub, cp)})

    async def stop_all(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        data = await validate.body(request, ("reason",), optional_body=True)
        reason = validate.reason(data.get("reason"))
        cps, text = operations.stop_all(self.hub, reason)  # the same rules as admin stop-all
        self._audit(request, "stop_all" + (f" (reason: {reason})" if reason else ""), text)
        return web.json_response({"message": text, "cp_ids": [cp.cp_id for cp in cps]})

    async def resume_all(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        await validate.body(request, (), optional_body=True)
        cps, text = operations.resume_all(self.hub)  # only what stop-all stopped
        self._audit(request, "resume_all", text)
        return web.json_response({"message": text, "cp_ids": [cp.cp_id for cp in cps]})

    async def sessions(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        q = request.query
        cp_id = validate.ident(q["cp"], "cp") if "cp" in q else None
        driver_id = validate.ident(q["driver"], "driver") if "driver" in q else None
        since = validate.int_param(request, "since", 0, 2**40)
        until = validate.int_param(request, "until", 0, 2**40)
        limit = validate.int_param(request, "limit", 1, MAX_SESSIONS_LISTED, 200)
        live = self.hub.sessions.live
        rows = self.hub.sessions.store.find(cp_id, driver_id, since, until, limit)
        return web.json_response([session_json(live.get(r.session_id, r)) for r in rows])

    async def drivers(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        out = []
        for rec in self.hub.db.drivers():
            live = self.hub.sessions.live_of_driver(rec.driver_id)
            out.append({"driver_id": rec.driver_id, "name": rec.name,
                        "card": rec.card_uid is not None,
                        "live_session_id": live.session_id if live else None})
        return web.json_response(out)

    async def sites(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        return web.json_response(operations.site_rows(self.hub))

    async def audit(self, request: web.Request) -> web.Response:
        await self.auth.operator(request)
        limit = validate.int_param(request, "limit", 1, AUDIT_MAX, 100)
        since = validate.int_param(request, "since", 0, 2**40)
        return web.json_response([e.as_map() for e in self.hub.audit.entries(limit, since)])

    # -- a driver -------------------------------------------------------------------------
    async def available_cps(self, request: web.Request) -> web.Response:
        await self.auth.driver(request)
        self.hub.registry.refresh()
        return web.json_response([
            {k: v for k, v in cp_json(self.hub, cp).items()
             if k in ("cp_id", "state", "location", "price_per_kwh", "max_kw")}
            for _id, cp in sorted(self.hub.registry.cps.items())])

    async def my_sessions(self, request: web.Request) -> web.Response:
        driver_id = await self.auth.driver(request)
        limit = validate.int_param(request, "limit", 1, MAX_SESSIONS_LISTED,
                                   self.hub.config.history_limit)
        live = self.hub.sessions.live
        rows = self.hub.sessions.store.history(driver_id, limit)
        return web.json_response([session_json(live.get(r.session_id, r)) for r in rows])

    async def charge(self, request: web.Request) -> web.Response:
        driver_id = await self.auth.driver(request)
        data = await validate.body(request, ("cp_id",), ("cp_id",))
        cp_id = validate.ident(data["cp_id"], "cp_id")
        routed = await forward_for_web(self.hub, make(t.CHARGE_REQUEST, cp_id=cp_id,
                                                      driver_id=driver_id,
                                                      timestamp=unix_time()),
                                       driver_id, str(request.remote))
        if routed is not None:  # another Central holds the CP: it opened the session
            _raise_refusal(routed)
            return web.json_response({"message": f"charging authorised at {cp_id}",
                                      "session_id": routed["session_id"], "cp_id": cp_id,
                                      "driver_id": driver_id,
                                      "price_per_kwh": routed.get("price_per_kwh")}, status=201)
        try:
            session, _new = self.desk.open(cp_id, driver_id, f"web-{uuid.uuid4()}", "web")
            self.desk.send_start(session)
        except ChargeRefused as denial:
            raise ApiError(STATUS_OF_REFUSAL.get(denial.reason, 409), str(denial),
                           denial.reason) from None
        return web.json_response({"message": f"charging authorised at {cp_id}",
                                  "session_id": session.session_id, "cp_id": cp_id,
                                  "driver_id": driver_id,
                                  "price_per_kwh": session.price_per_kwh}, status=201)

    async def stop_session(self, request: web.Request) -> web.Response:
        driver_id = await self.auth.driver(request)
        session_id = validate.ident(request.match_info["session_id"], "session_id")
        await validate.body(request, (), optional_body=True)
        session = self.hub.sessions.get(session_id)
        if session is None:
            raise ApiError(404, f"unknown session {session_id}", UNKNOWN_SESSION)
        routed = await forward_for_web(self.hub, make(t.STOP_CHARGING_REQUEST, cp_id=session.cp_id,
                                                      session_id=session_id, driver_id=driver_id,
                                                      timestamp=unix_time()),
                                       driver_id, str(request.remote))
        if routed is not None:
            _raise_refusal(routed)
        else:
            try:
                self.desk.stop(session.cp_id, session_id, driver_id)
            except ChargeRefused as denial:
                raise ApiError(STATUS_OF_REFUSAL.get(denial.reason, 409), str(denial),
                               denial.reason) from None
        return web.json_response({"message": f"stop requested at {session.cp_id}: the ticket "
                                             "follows", "session_id": session_id}, status=202)

    # -- helpers ------------------------------------------------------------------------
    def _cp(self, request: web.Request) -> ChargePoint:
        cp_id = validate.ident(request.match_info["cp_id"], "cp_id")
        cp = self.hub.registry.get(cp_id)
        if cp is None:
            raise ApiError(404, f"unknown charge point {cp_id}", UNKNOWN_CP)
        return cp

    def _audit(self, request: web.Request, action: str, result: str) -> None:
        self.hub.audit.record(address_of(request), "admin(web)", action[:MAX_TEXT], "ok",
                              result)


def _raise_refusal(reply: dict) -> None:
    """Another Central's refusal (evcentral.relay), as this API says refusals."""
    if reply.get("status") != t.SUCCESS:
        reason = str(reply.get("reason") or reply.get("code") or "refused")
        raise ApiError(STATUS_OF_REFUSAL.get(reason, 409 if reason != "owner_unreachable"
                                             else 503),
                       str(reply.get("message") or reply.get("error") or "refused"), reason)
