"""Who is asking: the operator (admin token as a Bearer header, or the console's
session cookie plus its CSRF header) or a driver (HTTP Basic: driver id + secret).

Secrets are compared in constant time. Failures count in Central's FailureThrottle
under the same keys as on the TCP socket ("addr:HOST" for the admin token,
"addr:HOST" and "driver:ID" for a driver): past a few, every attempt waits
before it is judged, right or wrong, so guessing over HTTP is no faster than
over TCP. Refusals go to the
audit trail. Console sessions are bounded (MAX_SESSIONS, oldest dropped) and
expire; the cookie is HttpOnly and SameSite=Strict, and a POST with it must
also carry the session's CSRF token in X-CSRF-Token, which another site's page
cannot read.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import time
from collections import OrderedDict

from aiohttp import web

from evcentral.config import Hub
from evcentral.secrets_box import SecretBoxError
from evweb.errors import ApiError, unauthorized
from evwire.schema import kind_ok
from evwire.trace import log

COOKIE = "evweb_session"
CSRF_HEADER = "X-CSRF-Token"
MAX_SESSIONS = 1000
SESSION_TTL_S = 12 * 3600
MAX_CREDENTIAL = 512  # longer Authorization values are refused unread


def address_of(request: web.Request) -> str:
    return request.remote or "unknown"


class ConsoleSessions:
    """Signed-in consoles: cookie value -> (CSRF token, expiry), bounded."""

    def __init__(self, ttl_s: float = SESSION_TTL_S, limit: int = MAX_SESSIONS):
        self.ttl_s = ttl_s
        self.limit = limit
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def create(self) -> tuple[str, str]:
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._sessions[cookie] = (csrf, time.monotonic() + self.ttl_s)
        while len(self._sessions) > self.limit:
            self._sessions.popitem(last=False)
        return cookie, csrf

    def csrf_of(self, cookie: str | None) -> str | None:
        entry = self._sessions.get(cookie or "")
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            del self._sessions[cookie]
            return None
        return entry[0]

    def drop(self, cookie: str | None) -> None:
        self._sessions.pop(cookie or "", None)


class WebAuth:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.consoles = ConsoleSessions()

    # -- the operator ----------------------------------------------------------------
    def admin_enabled(self) -> None:
        if not self.hub.config.admin_token:
            raise ApiError(403, "the operator API is disabled: start Central with "
                                "--admin-token-file or EVCHARGE_ADMIN_TOKEN", "admin_disabled")

    async def check_token(self, request: web.Request, given: str) -> None:
        """The admin token or ApiError 401, after the throttle's wait."""
        self.admin_enabled()
        address = address_of(request)
        keys = (f"addr:{address}",)
        wait = self.hub.throttle.delay(*keys)
        if wait > 0:
            await asyncio.sleep(wait)
        expected = str(self.hub.config.admin_token).encode()
        if hmac.compare_digest(given.encode(), expected):
            return
        self.hub.throttle.failed(*keys)
        log("warning", f"web: wrong admin token from {address}")
        self.hub.audit.record(address, "admin(web)", f"{request.method} {request.path}"[:200],
                              "refused", "wrong admin token")
        raise unauthorized("wrong admin token")

    async def operator(self, request: web.Request) -> None:
        """Pass if the request is the operator's, else ApiError (401, or 403 for CSRF)."""
        self.admin_enabled()
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value or len(value) > MAX_CREDENTIAL:
                raise unauthorized("operator endpoints need 'Authorization: Bearer <admin "
                                   "token>' or the console's sign-in")
            await self.check_token(request, value.strip())
            return
        csrf = self.consoles.csrf_of(request.cookies.get(COOKIE))
        if csrf is None:
            raise unauthorized("sign in first: operator endpoints need 'Authorization: "
                               "Bearer <admin token>' or the console's session")
        if request.method not in ("GET", "HEAD"):
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), csrf.encode()):
                raise ApiError(403, f"missing or wrong {CSRF_HEADER} header", "csrf")

    # -- a driver --------------------------------------------------------------------
    async def driver(self, request: web.Request) -> str:
        """The driver id proved by HTTP Basic (id:secret), else ApiError 401."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value or len(value) > MAX_CREDENTIAL:
            raise unauthorized("driver endpoints need HTTP Basic: driver id and driver secret",
                               "Basic")
        try:
            driver_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise unauthorized("malformed Basic credentials", "Basic") from None
        if not sep or not kind_ok(driver_id, "id"):
            raise unauthorized("malformed Basic credentials: driver id, then ':', then the "
                               "secret", "Basic")
        address = address_of(request)
        keys = (f"addr:{address}", f"driver:{driver_id}")
        wait = self.hub.throttle.delay(*keys)
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            expected = self.hub.db.driver_secret(driver_id)
        except SecretBoxError as exc:
            log("error", f"web: secret of driver {driver_id} cannot be read: {exc}")
            expected = None
        # Compared even for an unknown driver, so timing does not tell which ids exist.
        matches = hmac.compare_digest(secret.encode(), (expected or "\0" * 32).encode())
        if expected is not None and matches:
            self.hub.throttle.succeeded(keys[1])
            return driver_id
        self.hub.throttle.failed(*keys)
        log("warning", f"web: driver {driver_id!r} from {address} refused")
        self.hub.audit.record(address, f"driver:{driver_id}", "web auth", "refused",
                              "unknown_driver" if expected is None else "bad_secret")
        raise unauthorized("wrong driver id or secret", "Basic")
