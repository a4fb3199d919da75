"""Central's TCP boundary refuses out-of-range numbers and bad ids before any
handler runs (even before authentication), answering with an error_response
that names the type, the field and the rule, and keeps the connection."""
from __future__ import annotations

import pytest

from evwire import make
from evwire import types as t
from evwire.compat import unix_time

ID_RULE = "must be 1-64 of A-Z a-z 0-9 . _ : -"


@pytest.mark.parametrize(("msg", "error"), [
    (make(t.CHARGE_REQUEST, cp_id="CP1", driver_id="D 1", timestamp=unix_time()),
     f"charge_request: field 'driver_id' {ID_RULE}"),
    (make(t.AUTH_REQUEST, cp_id="CP1/../x", timestamp=unix_time(), nonce="ab" * 16, mac="00"),
     f"auth_request: field 'cp_id' {ID_RULE}"),
    (make(t.AUTH_REQUEST, cp_id="CP1", timestamp=0, nonce="ab" * 16, mac="00"),
     "auth_request: field 'timestamp' must be an integer >= 946684800 and <= 4102444800"),
    (make(t.SESSION_HISTORY_REQUEST, driver_id="D1", timestamp=unix_time(), limit=10**9),
     "session_history_request: field 'limit' must be an integer >= 1 and <= 10000"),
], ids=["driver id with a space", "cp_id with slashes", "timestamp 0", "huge limit"])
def test_refused_at_the_boundary_with_the_field_named(central, msg, error):
    client = central.client()
    reply = client.request(msg)
    assert reply["type"] == t.ERROR_RESPONSE and reply["code"] == "validation_error"
    assert reply["error"] == error
    assert reply["message_id"] == msg["message_id"]


def test_nan_and_infinity_are_refused_and_the_connection_stays(central):
    client = central.client()
    for value in (float("nan"), float("inf"), float("-inf")):
        msg = make(t.REGISTER_REQUEST, cp_id="CP1", timestamp=unix_time(),
                   max_charging_rate_kw=value)
        reply = client.request(msg)  # CBOR carries NaN and the infinities (f97e00, f97c00)
        assert reply["type"] == t.ERROR_RESPONSE
        assert reply["error"] == ("register_request: field 'max_charging_rate_kw' must be a "
                                  "finite number >= 0 and <= 1000")
    # Still the same connection, still answering.
    last = make(t.CHARGE_REQUEST, cp_id="CP1", driver_id="D\u00f1", timestamp=unix_time())
    assert client.request(last)["error"] == f"charge_request: field 'driver_id' {ID_RULE}"
    assert "Traceback" not in central.log()
