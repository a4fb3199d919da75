# Charge point authentication (the seed's auth_request TODO, implemented):
# mac = hex HMAC-SHA256(secret UTF-8, "auth_request|{cp_id}|{timestamp}|{nonce}").
from evwire import types as t
from evwire.compat import hexlify, hmac_sha256, unix_time, urandom
from evwire.messages import make


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
