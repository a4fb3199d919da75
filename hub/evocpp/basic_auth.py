"""OCPP security profiles 1 and 2: HTTP Basic at the WebSocket upgrade.

The username is the charge point's id (the one in the URL path), the password
the CP's secret from `evcharge central add-cp`. Judged like an auth_request
(evcentral.auth_gate): waits first when the address or id failed recently,
compares in constant time against a dummy secret for an unknown id (so the
answer and its timing do not tell which ids exist), counts and audits
refusals. Over TLS (profile 2) the same check runs inside the TLS session.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
from urllib.parse import unquote

from evcentral.config import Hub
from evcentral.secrets_box import SecretBoxError
from evwire.schema import kind_ok
from evwire.trace import log

PATH_PREFIX = "/ocpp/"
MAX_HEADER = 1024  # an Authorization header longer than this is refused unread


class Refused(Exception):
    """Why the upgrade is refused: the text goes to the log and audit trail only."""


def cp_id_of(path: str) -> str:
    """The cp_id in /ocpp/{cp_id}; Refused when the path is anything else."""
    path = path.split("?", 1)[0]
    if not path.startswith(PATH_PREFIX):
        raise Refused(f"path {path[:80]!r} is not {PATH_PREFIX}{{cp_id}}")
    cp_id = unquote(path[len(PATH_PREFIX):])
    if not kind_ok(cp_id, "id"):
        raise Refused(f"charge point id {cp_id[:80]!r} is not a valid id")
    return cp_id


def password_of(header: str | None, cp_id: str) -> str:
    """The password of a Basic header whose username is cp_id."""
    if not header:
        raise Refused("no Authorization header (security profile 1 needs HTTP Basic)")
    if len(header) > MAX_HEADER:
        raise Refused("Authorization header too long")
    scheme, _sp, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise Refused(f"Authorization scheme {scheme[:20]!r} is not Basic")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Refused("Authorization header is not valid base64 of UTF-8") from None
    # The id may contain ':' (evwire ids allow it): split after the known id.
    if not decoded.startswith(cp_id + ":"):
        raise Refused("Basic username is not the charge point id of the URL")
    return decoded[len(cp_id) + 1:]


class BasicAuth:
    def __init__(self, hub: Hub):
        self.hub = hub
        self._dummy = secrets.token_urlsafe(24)

    async def check(self, address: str, path: str, header: str | None) -> str:
        """The authenticated cp_id; Refused (already counted and audited) otherwise."""
        try:
            cp_id = cp_id_of(path)
        except Refused as denial:
            self._refused(address, "-", str(denial), ())
            raise
        keys = (f"addr:{address}", f"cp:{cp_id}")
        wait = self.hub.throttle.delay(*keys)
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            password = password_of(header, cp_id)
            expected, missing = self._secret_of(cp_id)
            matches = hmac.compare_digest(password.encode(), (expected or self._dummy).encode())
            if missing:
                raise Refused(missing)
            if not matches:
                raise Refused("wrong password")
            if self.hub.registry.get(cp_id) is None:
                raise Refused("unknown_cp")
        except Refused as denial:
            self._refused(address, cp_id, str(denial), keys)
            raise
        self.hub.throttle.succeeded(keys[1])
        return cp_id

    def _secret_of(self, cp_id: str) -> tuple[str | None, str | None]:
        try:
            secret = self.hub.db.cp_secret(cp_id)
        except SecretBoxError as exc:
            log("error", f"secret of cp {cp_id} cannot be read: {exc}")
            return None, "secret_unusable"
        return (secret, None) if secret is not None else (None, "unknown_cp")

    def _refused(self, address: str, cp_id: str, detail: str, keys: tuple[str, ...]) -> None:
        if keys:
            self.hub.throttle.failed(*keys)
        log("warning", f"OCPP connection of {cp_id!r} from {address} refused ({detail})")
        self.hub.audit.record(address, f"cp:{cp_id}", "ocpp auth", "refused", detail)
