# Monitor <-> Engine link authentication: a mutual challenge-response on the
# per-CP link key (text, e.g. 64 hex chars), MicroPython compatible.
#   Monitor -> Engine  link_hello {cp_id, nonce: Monitor's 32 hex}
#   Engine -> Monitor  link_challenge {nonce: Engine's 32 hex, mac: engine_mac(...), cp_id}
#   Monitor -> Engine  link_auth {mac: monitor_mac(...)}
#   Engine -> Monitor  link_auth_response {status: success} (or error_response unauthenticated)
# The two MACs cover both nonces in a different order and role word, so one
# side's answer can never be replayed as the other's. Also home of the HMAC
# and the constant-time compare that evwire.auth uses: the Engine's bundle
# carries this small module, not evwire.auth. Loaded on the Engine only where
# a link key is configured: its heap is measured.
import hashlib

from evwire.compat import hexlify, urandom

NONCE_LEN = 32  # hex characters: 128 random bits
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


def constant_time_equal(a, b):
    """Text equality whose time does not tell how much of a guess was right."""
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= ord(x) ^ ord(y)
    return diff == 0


def new_nonce():
    return hexlify(urandom(NONCE_LEN // 2))


def _mac(key, text):
    return hexlify(hmac_sha256(key.encode("utf-8"), text.encode("utf-8")))


def engine_mac(key, cp_id, monitor_nonce, engine_nonce):
    """What the Engine proves with: HMAC(key, "link|engine|cp|monitor_nonce|engine_nonce")."""
    return _mac(key, "link|engine|%s|%s|%s" % (cp_id, monitor_nonce, engine_nonce))


def monitor_mac(key, cp_id, engine_nonce, monitor_nonce):
    """What the Monitor proves with: HMAC(key, "link|monitor|cp|engine_nonce|monitor_nonce")."""
    return _mac(key, "link|monitor|%s|%s|%s" % (cp_id, engine_nonce, monitor_nonce))


def nonce_ok(nonce):
    """A peer's nonce: exactly NONCE_LEN lowercase hex characters."""
    return isinstance(nonce, str) and len(nonce) == NONCE_LEN and not nonce.strip(
        "0123456789abcdef")


def mac_ok(got, expected):
    """Constant-time comparison of a received hex MAC with the expected one."""
    return isinstance(got, str) and constant_time_equal(got, expected)
