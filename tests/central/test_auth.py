"""Charge point authentication and registration at a real Central."""
from __future__ import annotations

from central_testkit import FakeMonitor

from evwire import make
from evwire import types as t
from evwire.auth import new_nonce
from evwire.compat import unix_time


def test_auth_success_then_register_and_heartbeat(central):
    mon = central.monitor("CP1", connect=False)
    reply = mon.auth()
    assert reply["type"] == t.AUTH_RESPONSE and reply["status"] == t.SUCCESS
    reg = mon.register(max_kw=22.0, location="Depot 3")
    assert reg["type"] == t.REGISTER_RESPONSE and reg["status"] == t.SUCCESS
    assert reg["cp_status"] == t.CP_AVAILABLE and reg["price_per_kwh"] == 0.30
    hb = mon.heartbeat()
    assert hb["type"] == t.HEARTBEAT_RESPONSE and hb["cp_status"] == t.CP_AVAILABLE
    rows = {r["cp_id"]: r for r in central.admin("list_cps")["data"]}
    assert rows["CP1"]["status"] == t.CP_AVAILABLE
    assert rows["CP1"]["location"] == "Depot 3" and rows["CP1"]["max_charging_rate_kw"] == 22.0
    assert rows["CP2"]["status"] == t.CP_DISCONNECTED
    mon.close()


def _refused(central, reason: str, **kw) -> None:
    mon = FakeMonitor(central.host, central.port, kw.pop("cp_id", "CP1"),
                      kw.pop("secret", central.secrets["CP1"]))
    reply = mon.auth(**kw)
    assert reply["type"] == t.AUTH_RESPONSE and reply["status"] == t.FAILURE
    assert reply["reason"] == reason, reply
    assert mon.wait_closed(5), "Central must close the connection after a refused auth"
    mon.close()


def test_bad_mac_is_refused_and_connection_closed(central):
    _refused(central, "bad_credentials", secret="not-the-secret")


def test_stale_timestamp_is_refused(central):
    _refused(central, "stale_timestamp", timestamp=unix_time() - 500)


def test_timestamp_in_the_future_is_refused(central):
    _refused(central, "stale_timestamp", timestamp=unix_time() + 500)


def test_unknown_cp_is_refused(central):
    _refused(central, "bad_credentials", cp_id="CP404")  # as a wrong MAC: nothing told


def test_replayed_nonce_is_refused(central):
    nonce = new_nonce()
    first = central.monitor("CP1", connect=False)
    assert first.auth(nonce=nonce)["status"] == t.SUCCESS
    first.close()
    _refused(central, "replayed_nonce", nonce=nonce)


def test_malformed_nonce_is_refused(central):
    _refused(central, "bad_nonce", nonce="xyz")


def test_register_before_auth_is_refused(central):
    mon = central.monitor("CP1", connect=False)
    reply = mon.register()
    assert reply["type"] == t.REGISTER_RESPONSE and reply["status"] == t.FAILURE
    assert reply["reason"] == "not_authenticated"
    assert "auth_request" in reply["message"]
    # Other Monitor messages before auth get an error_response; the link stays usable.
    err = mon.heartbeat()
    assert err["type"] == t.ERROR_RESPONSE and "not authenticated" in err["error"]
    assert mon.auth()["status"] == t.SUCCESS
    assert mon.register()["status"] == t.SUCCESS
    mon.close()


def test_messages_must_name_the_authenticated_cp(central):
    mon = central.monitor("CP1")
    reply = mon.request(make(t.HEARTBEAT_REQUEST, cp_id="CP2", status=t.CP_AVAILABLE,
                             timestamp=unix_time()))
    assert reply["type"] == t.ERROR_RESPONSE and "authenticated as CP1" in reply["error"]
    mon.close()


def test_second_connection_of_a_cp_replaces_the_first(central):
    old = central.monitor("CP1")
    new = central.monitor("CP1")
    assert old.wait_closed(5)
    assert new.heartbeat()["cp_status"] == t.CP_AVAILABLE
    new.close()
