# Peer authentication (left unimplemented in the seed, implemented here).
#
# auth_request, the first message of a charge point's or a driver's connection:
#   mac = hex HMAC-SHA256(secret UTF-8, "auth_request|{id}|{timestamp}|{nonce}")
#   where id is the cp_id (a Monitor) or the driver_id (a Driver).
# Signed Kafka records (cp-events by a Monitor, driver-requests by a Driver):
#   mac = lowercase hex HMAC-SHA256(secret UTF-8, dumps(message without "mac"))
#   dumps is evwire's canonical CBOR, so every tier computes the same bytes.
from evwire import types as t
from evwire.compat import hexlify, unix_time, urandom

# The primitives live in evwire.link_auth, which the Engine's bundle carries (this module
# it does not): one HMAC for every tier.
from evwire.link_auth import constant_time_equal, hmac_sha256  # noqa: F401
from evwire.messages import make


def auth_text(peer_id, timestamp, nonce):
    return "auth_request|%s|%d|%s" % (peer_id, timestamp, nonce)


def auth_mac(secret, peer_id, timestamp, nonce):
    """The auth_request MAC of a charge point (cp_id) or a driver (driver_id)."""
    return hexlify(hmac_sha256(secret.encode("utf-8"),
                               auth_text(peer_id, timestamp, nonce).encode()))


def new_nonce():
    return hexlify(urandom(16))  # 32 hex chars


def make_auth_request(cp_id, secret, timestamp=None, nonce=None, id_field="cp_id"):
    """auth_request for a charge point, or for a driver with id_field="driver_id"."""
    ts = unix_time() if timestamp is None else timestamp
    nonce = nonce or new_nonce()
    fields = {id_field: cp_id}
    return make(t.AUTH_REQUEST, timestamp=ts, nonce=nonce,
                mac=auth_mac(secret, cp_id, ts, nonce), **fields)


def make_driver_auth_request(driver_id, secret, timestamp=None, nonce=None):
    return make_auth_request(driver_id, secret, timestamp, nonce, id_field="driver_id")


def record_mac(secret, msg):
    """The `mac` of a signed Kafka record: over the canonical CBOR of msg without `mac`."""
    from evwire.framing import dumps  # here: the Engine never signs records

    unsigned = {}
    for key in msg:
        if key != "mac":
            unsigned[key] = msg[key]
    return hexlify(hmac_sha256(secret.encode("utf-8"), dumps(unsigned)))


def sign_record(msg, secret):
    """msg with its `mac` set (the same dict, for the caller to encode)."""
    msg["mac"] = record_mac(secret, msg)
    return msg


def record_verifies(msg, secret):
    """Whether msg carries a `mac` that verifies with secret (constant-time compare)."""
    mac = msg.get("mac")
    if not isinstance(mac, str) or len(mac) != 64:
        return False
    return constant_time_equal(mac, record_mac(secret, msg))
