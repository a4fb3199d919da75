# Charge point authentication (left unimplemented in the seed, implemented here):
# mac = hex HMAC-SHA256(secret UTF-8, "auth_request|{cp_id}|{timestamp}|{nonce}").
import hashlib

from evwire import types as t
from evwire.compat import hexlify, unix_time, urandom
from evwire.messages import make

_BLOCK = 64


def hmac_sha256(key, data):
    """HMAC-SHA256 (RFC 2104) from hashlib alone: MicroPython has no hmac."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + b"\x00" * (_BLOCK - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(data)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def auth_text(cp_id, timestamp, nonce):
    return "auth_request|%s|%d|%s" % (cp_id, timestamp, nonce)


def auth_mac(secret, cp_id, timestamp, nonce):
    return hexlify(hmac_sha256(secret.encode("utf-8"), auth_text(cp_id, timestamp, nonce).encode()))


def new_nonce():
    return hexlify(urandom(16))  # 32 hex chars


def make_auth_request(cp_id, secret, timestamp=None, nonce=None):
    ts = unix_time() if timestamp is None else timestamp
    nonce = nonce or new_nonce()
    return make(t.AUTH_REQUEST, cp_id=cp_id, timestamp=ts, nonce=nonce,
                mac=auth_mac(secret, cp_id, ts, nonce))


def constant_time_equal(a, b):
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= ord(x) ^ ord(y)
    return diff == 0
