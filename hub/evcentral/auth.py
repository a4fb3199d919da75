"""Peer authentication: the MAC of auth_request, clock skew, nonce replay, and
what a failure may tell the one who asked.

mac = hex HMAC-SHA256(secret, "auth_request|{id}|{timestamp}|{nonce}")
(evwire.auth), id being the cp_id of a Monitor or the driver_id of a Driver.
Nonces are remembered in the database for twice the skew window: a request
stamped up to `skew` seconds in the future stays acceptable for 2 x skew
seconds after it is first seen.

An unknown id and a wrong MAC get the same reply (BAD_CREDENTIALS, the same
text), and an unknown id is checked against a dummy secret so that the time
taken does not tell them apart either: a guesser learns nothing about which
ids exist. The real reason goes to the log and the audit trail only.

A CP whose secret was rotated (`add-cp --secret...`) may still prove itself with
the previous one until its grace deadline (db.cp_previous_secret): a warning
says that its Monitor has not picked up the new one yet.
"""
from __future__ import annotations

import hmac
import re
import secrets

from evcentral.db import Database
from evcentral.secrets_box import SecretBoxError
from evwire.auth import auth_mac
from evwire.compat import unix_time
from evwire.trace import log

DEFAULT_SKEW_S = 120

NONCE_PATTERN = re.compile(r"[0-9a-fA-F]{32}")
MAC_PATTERN = re.compile(r"[0-9a-fA-F]{64}")

CP = "cp"
DRIVER = "driver"

# The one reply for an unknown id, a wrong MAC and an unreadable secret.
BAD_CREDENTIALS = "bad_credentials"
BAD_CREDENTIALS_TEXT = "authentication failed: unknown id or wrong secret"


class AuthFailure(Exception):
    """Why a peer was refused: `reason` and the text are what the peer is told,
    `detail` is the real cause, for the log and the audit trail only."""

    def __init__(self, reason: str, text: str, detail: str | None = None):
        super().__init__(text)
        self.reason = reason
        self.detail = detail or reason


def bad_credentials(detail: str) -> AuthFailure:
    return AuthFailure(BAD_CREDENTIALS, BAD_CREDENTIALS_TEXT, detail)


class Authenticator:
    def __init__(self, db: Database, skew_s: int = DEFAULT_SKEW_S):
        self.db = db
        self.skew_s = skew_s
        # Unknown ids are checked against this, so that they cost what a known one costs.
        self._dummy_secret = secrets.token_urlsafe(24)

    def verify(self, msg: dict) -> str:
        """The authenticated cp_id of a Monitor's auth_request, or AuthFailure."""
        return self.verify_peer(CP, msg["cp_id"], msg)

    def verify_peer(self, kind: str, peer_id: str, msg: dict) -> str:
        """The authenticated id of kind CP or DRIVER, or AuthFailure.

        Checks that do not depend on the id come first, so their replies tell
        nothing about it; then the MAC, always computed; the nonce is spent
        only by a request that proved itself.
        """
        timestamp, nonce, mac = msg["timestamp"], msg["nonce"], msg["mac"]
        if not NONCE_PATTERN.fullmatch(nonce):
            raise AuthFailure("bad_nonce", "nonce must be 32 hexadecimal characters")
        drift = timestamp - unix_time()
        if abs(drift) > self.skew_s:
            raise AuthFailure("stale_timestamp",
                              f"timestamp is {abs(drift)} s {'ahead' if drift > 0 else 'behind'}"
                              f" (more than {self.skew_s} s off): check the clock")
        secret, missing = self._secret_of(kind, peer_id)
        expected = auth_mac(secret or self._dummy_secret, peer_id, timestamp, nonce)
        given = mac.lower() if MAC_PATTERN.fullmatch(mac) else "-" * 64
        matches = hmac.compare_digest(given, expected)
        # Asked for a known CP and an unknown id alike, whatever the first MAC gave, so
        # that the time taken still tells nothing about which ids exist.
        old_matches = kind == CP and self._previous_matches(peer_id, given, timestamp, nonce)
        if missing:
            raise bad_credentials(missing)
        if old_matches and not matches:
            log("warning", f"{peer_id} still uses its previous secret (accepted until its "
                           "grace ends): give its Monitor the new one (secret file, SIGHUP)")
            matches = True
        if not matches:
            raise bad_credentials("bad_mac")
        owner = peer_id if kind == CP else f"{kind}:{peer_id}"  # CP rows as before
        if not self.db.use_nonce(nonce.lower(), owner, 2 * self.skew_s):
            raise AuthFailure("replayed_nonce", "nonce already used (replayed request)")
        return peer_id

    def _previous_matches(self, cp_id: str, given: str, timestamp: int, nonce: str) -> bool:
        """Whether `given` is the MAC with the CP's pre-rotation secret, inside its grace."""
        try:
            previous = self.db.cp_previous_secret(cp_id)
        except SecretBoxError as exc:
            log("error", f"previous secret of cp {cp_id} cannot be read: {exc}")
            previous = None
        secret = previous[0] if previous else self._dummy_secret
        matches = hmac.compare_digest(given, auth_mac(secret, cp_id, timestamp, nonce))
        return matches and previous is not None

    def _secret_of(self, kind: str, peer_id: str) -> tuple[str | None, str | None]:
        """(secret, None), or (None, why there is none) for the audit trail."""
        try:
            secret = self.db.cp_secret(peer_id) if kind == CP else self.db.driver_secret(peer_id)
        except SecretBoxError as exc:
            log("error", f"secret of {kind} {peer_id} cannot be read: {exc}")
            return None, "secret_unusable"
        if secret is None:
            return None, f"unknown_{kind}"
        return secret, None
