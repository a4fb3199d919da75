"""What a Kafka record must prove before Central acts on it.

A cp-events record is believed only if it decodes to a catalogue message, its
Kafka key is its cp_id, its numbers are finite and in range, its `mac`
verifies with that CP's secret, and the session it names exists and belongs
to that CP. A driver-requests record the same with the driver's secret. A CP's
record that fails with its current secret but verifies with the one it had before
its last rotation, inside that one's grace deadline, is believed (with a warning):
the Monitor signed it before it was given the new secret. Any
failure raises Rejected: permanent (the record can never become valid), so the
caller dead-letters it and moves on.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from evcentral.config import Hub
from evcentral.offline_sessions import OfflineRefused, open_offline
from evcentral.secrets_box import SecretBoxError
from evcentral.telemetry import Record
from evwire import dumps, loads
from evwire.errors import WireError
from evwire.trace import log

SECRET_TTL_S = 30.0  # a rotated secret is re-read at once on a MAC failure anyway
# ...but at most once a second per id: forged records must not each cost a database read.
SECRET_REFRESH_S = 1.0
SECRET_CACHE_MAX = 100_000
OLD_SECRET_WARN_S = 60.0  # a CP still signing with its old secret: said once a minute

# The largest value Central accepts per numeric field (all must be finite and >= 0);
# the catalogue's own ranges (evwire.schema) apply first, these are Central's backstop.
NUMBER_LIMITS = {
    "energy_consumed_kwh": 10_000.0,
    "total_cost": 1_000_000.0,
    "charging_rate": 10_000.0,
    "price_per_kwh": 10_000.0,
    "meter_kwh": 1e9,
    "meter_start_kwh": 1e9,
    "meter_stop_kwh": 1e9,
    "voltage": 10_000.0,
    "current": 10_000.0,
    "duration_s": 1e8,
}


class Rejected(Exception):
    """The record is set aside; the text is the dead letter's reason."""


def decode(rec: Record) -> dict:
    if not rec.value:
        raise Rejected("undecodable: empty record")
    try:
        msg = loads(rec.value)
    except (WireError, ValueError, TypeError, IndexError, KeyError, RecursionError) as exc:
        raise Rejected(f"undecodable: {exc}") from None
    if not isinstance(msg, dict):
        raise Rejected("undecodable: record value is not a CBOR map")
    return msg


def check_numbers(msg: dict) -> None:
    for field, limit in NUMBER_LIMITS.items():
        value = msg.get(field)
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value) or value < 0 or value > limit:
            raise Rejected(f"out of range: {field} = {value!r} (0..{limit:g})")


def record_mac(secret: str, msg: dict) -> str:
    """evwire.auth.record_mac, with CPython's C HMAC: the same rule and bytes (a test
    holds them equal), about twice as fast as the portable one MicroPython needs."""
    unsigned = {k: v for k, v in msg.items() if k != "mac"}
    return hmac.new(secret.encode("utf-8"), dumps(unsigned), hashlib.sha256).hexdigest()


def record_verifies(msg: dict, secret: str) -> bool:
    """evwire.auth.record_verifies, comparing in constant time with hmac.compare_digest."""
    mac = msg.get("mac")
    if not isinstance(mac, str) or len(mac) != 64 or not mac.isascii():
        return False
    return hmac.compare_digest(mac, record_mac(secret, msg))


def key_text(rec: Record) -> str:
    return rec.key.decode("utf-8", "replace") if rec.key else ""


class SecretUnreadable(Exception):
    """Central cannot decrypt a stored secret: a transient failure of Central's, retried."""


T = TypeVar("T")


class SecretCache(Generic[T]):
    """id -> secret, re-read after SECRET_TTL_S (decrypting per record costs)."""

    def __init__(self, lookup: Callable[[str], T]):
        self.lookup = lookup
        self.entries: dict[str, tuple[T, float]] = {}

    def get(self, ident: str, fresh: bool = False) -> tuple[T, bool]:
        """(secret, was_cached); fresh: re-read unless read within the last second."""
        now = time.monotonic()
        entry = self.entries.get(ident)
        ttl = SECRET_REFRESH_S if fresh else SECRET_TTL_S
        if entry is not None and now - entry[1] < ttl:
            return entry[0], True
        if len(self.entries) >= SECRET_CACHE_MAX:
            self.entries.clear()  # bounded: ids from strangers cannot grow it for ever
        secret = self.lookup(ident)
        self.entries[ident] = (secret, now)
        return secret, False


class RecordCheck:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.cp_secrets = SecretCache(hub.db.cp_secret)
        self.driver_secrets = SecretCache(hub.db.driver_secret)
        # (pre-rotation secret, unix time its grace ends): asked only when the current fails.
        self.cp_old_secrets = SecretCache(hub.db.cp_previous_secret)
        self._old_warned: dict[str, float] = {}

    def cp_event(self, rec: Record, msg: dict) -> None:
        """Raises Rejected unless the (validated) telemetry record may be acted on."""
        cp_id = msg["cp_id"]
        self._key_is(rec, cp_id, "cp_id")
        try:
            self._verify(msg, self.cp_secrets, f"charge point {cp_id}", cp_id)
        except Rejected:
            if not self._verifies_with_old_secret(msg, cp_id):
                raise
        check_numbers(msg)
        session = self.hub.sessions.get(msg["session_id"])
        if session is None and msg.get("offline") is True:
            try:  # started by the CP while no Central answered: verified above, so opened
                session = open_offline(self.hub, msg, cp_id)
            except OfflineRefused as exc:
                raise Rejected(str(exc)) from None
        if session is None:
            raise Rejected(f"unknown session {msg['session_id']}")
        if session.cp_id != cp_id:
            raise Rejected(f"session {msg['session_id']} belongs to another charge point, "
                           f"not {cp_id}")

    def driver_request(self, rec: Record, msg: dict) -> str:
        """The verified driver_id of a driver request; raises Rejected."""
        driver_id = msg.get("driver_id")
        if not isinstance(driver_id, str) or not driver_id:
            raise Rejected("invalid: the request names no driver_id")
        self._key_is(rec, driver_id, "driver_id")
        self._verify(msg, self.driver_secrets, f"driver {driver_id}", driver_id)
        return driver_id

    def _verifies_with_old_secret(self, msg: dict, cp_id: str) -> bool:
        """Signed with the CP's secret from before its last rotation, inside the grace."""
        if "mac" not in msg:
            return False
        try:
            # fresh: a rotation a moment ago must count at once (still at most 1 read/s/id).
            previous, _cached = self.cp_old_secrets.get(cp_id, fresh=True)
        except SecretBoxError as exc:
            raise SecretUnreadable(f"the previous secret of charge point {cp_id} cannot be "
                                   f"read ({exc})") from None
        if previous is None or time.time() >= previous[1]:
            return False  # none, or its grace is over: refused like any other key
        if not record_verifies(msg, previous[0]):
            return False
        now = time.monotonic()
        if now - self._old_warned.get(cp_id, -OLD_SECRET_WARN_S) >= OLD_SECRET_WARN_S:
            self._old_warned[cp_id] = now
            grace_end = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(previous[1]))
            log("warning", f"{cp_id}: record {msg.get('message_id')} is signed with the CP's "
                           f"previous secret, accepted until {grace_end}: give its Monitor "
                           "the new one (secret file, SIGHUP)")
        return True

    def _key_is(self, rec: Record, ident: str, field: str) -> None:
        key = key_text(rec)
        if key != ident:
            raise Rejected(f"key mismatch: record key '{key[:64]}' is not its {field} "
                           f"'{ident[:64]}'")

    def _verify(self, msg: dict, cache: SecretCache, who: str, ident: str) -> None:
        if "mac" not in msg:
            raise Rejected(f"unsigned: the record carries no mac ({who})")
        try:
            secret, cached = cache.get(ident)
            if cached and (secret is None or not record_verifies(msg, secret)):
                # Provisioned or rotated since it was cached: once more with the stored one.
                secret, _cached = cache.get(ident, fresh=True)
        except SecretBoxError as exc:
            # Central's own key file is unusable: that is no fault of the record, which
            # must not be set aside for it. The batch waits (and retries) until the
            # operator repairs the key.
            raise SecretUnreadable(f"the secret of {who} cannot be read ({exc})") from None
        if secret is None:
            raise Rejected(f"bad mac: {who} is unknown or has no secret")
        if record_verifies(msg, secret):
            return
        raise Rejected(f"bad mac: the record's mac does not verify with the secret of {who}")
