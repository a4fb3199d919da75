"""Charge point authentication: the MAC of auth_request, clock skew, nonce replay.

mac = hex HMAC-SHA256(secret, "auth_request|{cp_id}|{timestamp}|{nonce}")
(evwire.auth). Nonces are remembered in the database for twice the skew
window: a request stamped up to `skew` seconds in the future stays
acceptable for 2 x skew seconds after it is first seen.
"""
from __future__ import annotations

import hmac
import re

from evcentral.db import Database
from evcentral.secrets_box import SecretBoxError
from evwire.auth import auth_mac
from evwire.compat import unix_time
from evwire.trace import log

DEFAULT_SKEW_S = 120
NONCE_PATTERN = re.compile(r"[0-9a-fA-F]{32}")


class AuthFailure(Exception):
    """Why a charge point was refused; `reason` is a short code for logs and tests."""

    def __init__(self, reason: str, text: str):
        super().__init__(text)
        self.reason = reason


class Authenticator:
    def __init__(self, db: Database, skew_s: int = DEFAULT_SKEW_S):
        self.db = db
        self.skew_s = skew_s

    def verify(self, msg: dict) -> str:
        """Return the authenticated cp_id or raise AuthFailure."""
        cp_id, timestamp, nonce, mac = msg["cp_id"], msg["timestamp"], msg["nonce"], msg["mac"]
        if not NONCE_PATTERN.fullmatch(nonce):
            raise AuthFailure("bad_nonce", "nonce must be 32 hexadecimal characters")
        try:
            secret = self.db.cp_secret(cp_id)
        except SecretBoxError as exc:
            log("error", f"secret of {cp_id} cannot be read: {exc}")
            raise AuthFailure("secret_unusable",
                              f"Central cannot read the secret of {cp_id}") from None
        if secret is None:
            raise AuthFailure("unknown_cp", f"unknown charge point {cp_id}")
        drift = timestamp - unix_time()
        if abs(drift) > self.skew_s:
            raise AuthFailure("stale_timestamp",
                              f"timestamp is {abs(drift)} s {'ahead' if drift > 0 else 'behind'}"
                              f" (more than {self.skew_s} s off): check the clock")
        expected = auth_mac(secret, cp_id, timestamp, nonce)
        if not (mac.isascii() and hmac.compare_digest(mac.lower(), expected)):
            raise AuthFailure("bad_mac", "MAC does not match: wrong secret")
        if not self.db.use_nonce(nonce.lower(), cp_id, 2 * self.skew_s):
            raise AuthFailure("replayed_nonce", "nonce already used (replayed request)")
        return cp_id
