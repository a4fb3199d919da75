"""The REST API against a real Central (--http) with real Monitors and MicroPython
Engines on virtual hardware: every endpoint, auth failures, someone else's session,
bad bodies. One network per module; every test leaves its CPs AVAILABLE."""
from __future__ import annotations

import time

import pytest
from webkit import Http, basic, bearer

from evharness.procs import wait_until

OPERATOR_CALLS = [("GET", "/cps"), ("GET", "/cps/CP1"), ("POST", "/cps/CP1/stop"),
                  ("POST", "/cps/CP1/resume"), ("POST", "/stop-all"), ("POST", "/resume-all"),
                  ("GET", "/sessions"), ("GET", "/drivers"), ("GET", "/audit"),
                  ("GET", "/sites"), ("POST", "/logout"), ("GET", "/live")]
DRIVER_CALLS = [("GET", "/me/sessions"), ("POST", "/charge"), ("GET", "/available-cps"),
                ("POST", "/sessions/x1/stop")]


@pytest.fixture(scope="module")
def api(web_net):
    return Http(web_net.http_url)


@pytest.fixture(scope="module")
def op(web_net):
    return bearer(web_net.spec.admin_token)


def driver(net, driver_id):
    return basic(driver_id, net.spec.driver_secret(driver_id))


def cp_state(api, op, cp_id):
    status, body, _ = api.call("GET", f"/cps/{cp_id}", headers=op)
    assert status == 200, body
    return body


def wait_cp(api, op, cp_id, predicate, what, timeout=20.0):
    return wait_until(lambda: (lambda cp: cp if predicate(cp) else None)(cp_state(api, op, cp_id)),
                      timeout=timeout, interval=0.1, what=what)


def test_without_credentials_every_endpoint_is_401(api, web_net):
    for method, path in OPERATOR_CALLS:
        status, body, _ = api.call(method, path)
        assert status == 401, (method, path, body)
        assert "error" in body
    for method, path in DRIVER_CALLS:
        status, body, headers = api.call(method, path)
        assert status == 401, (method, path, body)
        assert headers.get("WWW-Authenticate", "").startswith("Basic")
    # A driver's credentials do not open operator endpoints, nor the other way round.
    assert api.call("GET", "/cps", headers=driver(web_net, "D1"))[0] == 401
    assert api.call("GET", "/me/sessions", headers=bearer(web_net.spec.admin_token))[0] == 401


def test_a_wrong_admin_token_is_refused_and_audited(api, op):
    status, body, _ = api.call("GET", "/cps", headers=bearer("not-the-token"))
    assert (status, body["reason"]) == (401, "unauthorized")
    assert body["error"] == "wrong admin token"
    status, body, _ = api.call("POST", "/login", {"token": "still-not-it"})
    assert status == 401
    status, audit, _ = api.call("GET", "/audit?limit=50", headers=op)
    assert status == 200
    refused = [e for e in audit if e["who"] == "admin(web)" and e["result"] == "refused"]
    assert len(refused) >= 2 and all(e["address"] == "127.0.0.1" for e in refused)


def test_operator_reads_cps_drivers_audit_and_openapi(api, op, web_net):
    status, cps, _ = api.call("GET", "/cps", headers=op)
    assert status == 200
    assert [cp["cp_id"] for cp in cps] == ["CP1", "CP2", "CP3"]
    for cp in cps:
        assert cp["state"] in ("AVAILABLE", "CHARGING", "STOPPED", "FAULTED", "DISCONNECTED")
        assert cp["location"] == f"Bay {cp['cp_id'][-1]}"
        assert cp["price_per_kwh"] == pytest.approx(0.30) and cp["max_kw"] == 22.0
    assert cp_state(api, op, "CP2")["cp_id"] == "CP2"
    assert api.call("GET", "/cps/NOPE", headers=op)[:2] == (
        404, {"error": "unknown charge point NOPE", "reason": "unknown_cp"})
    status, body, _ = api.call("GET", "/cps/bad%20id!", headers=op)
    assert status == 422 and body["reason"] == "bad_cp_id"
    status, drivers, _ = api.call("GET", "/drivers", headers=op)
    assert status == 200 and [d["driver_id"] for d in drivers] == ["D1", "D2"]
    assert api.call("GET", "/audit?limit=0", headers=op)[0] == 422
    assert api.call("GET", "/sessions?since=yesterday", headers=op)[0] == 422
    assert api.call("GET", "/no/such/path", headers=op)[0] == 404
    # The document describes every route Central serves under /api/v1.
    status, doc, _ = api.call("GET", "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    from evweb.api import Api
    routes = {(r.method.lower(), r.path.removeprefix("/api/v1"))
              for r in Api.routes(Api.__new__(Api))}
    described = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routes == described


def test_stop_and_resume_a_cp_with_reasons_and_bad_bodies(api, op, web_net):
    status, body, _ = api.call("POST", "/cps/CP3/stop", {"reason": "cable damaged"}, op)
    assert status == 200 and body["cp"]["state"] == "STOPPED", body
    assert cp_state(api, op, "CP3")["stop_reason"] == "cable damaged"
    # The same service as the TCP admin command: Central's own list says so too.
    assert web_net.cp_states()["CP3"] == "STOPPED"
    # A driver cannot charge there meanwhile.
    status, body, _ = api.call("POST", "/charge", {"cp_id": "CP3"}, driver(web_net, "D2"))
    assert (status, body["reason"]) == (409, "stopped")
    for bad, reason in (({"reason": 5}, "bad_reason"), ({"why": "x"}, "unknown_field"),
                        ([1, 2], "bad_json"), ({"reason": "x" * 201}, "bad_reason")):
        status, body, _ = api.call("POST", "/cps/CP3/stop", bad, op)
        assert (status, body["reason"]) == (422, reason), bad
    status, body, _ = api.call("POST", "/cps/CP3/stop", headers=op, raw=b"{not json")
    assert (status, body["reason"]) == (422, "bad_json")
    assert api.call("POST", "/cps/CP9/stop", {}, op)[0] == 404
    status, body, _ = api.call("POST", "/cps/CP3/resume", headers=op)
    assert status == 200 and body["cp"]["state"] == "AVAILABLE"
    status, audit, _ = api.call("GET", "/audit?limit=20", headers=op)
    actions = [e["action"] for e in audit if e["who"] == "admin(web)"]
    assert "stop_cp CP3 (reason: cable damaged)" in actions and "resume_cp CP3" in actions


def test_stop_all_and_resume_all(api, op, web_net):
    status, body, _ = api.call("POST", "/stop-all", {"reason": "maintenance"}, op)
    assert status == 200 and body["cp_ids"] == ["CP1", "CP2", "CP3"]
    assert set(web_net.cp_states().values()) == {"STOPPED"}
    status, body, _ = api.call("POST", "/resume-all", headers=op)
    assert status == 200
    for cp_id in ("CP1", "CP2", "CP3"):
        wait_cp(api, op, cp_id, lambda cp: cp["state"] == "AVAILABLE", f"{cp_id} AVAILABLE")


def test_a_driver_charges_stops_and_gets_the_ticket_others_cannot_touch_it(api, op, web_net):
    d1, d2 = driver(web_net, "D1"), driver(web_net, "D2")
    status, cps, _ = api.call("GET", "/available-cps", headers=d2)
    assert status == 200 and {c["cp_id"]: c["state"] for c in cps}["CP2"] == "AVAILABLE"
    started = int(time.time())
    status, body, _ = api.call("POST", "/charge", {"cp_id": "CP2"}, d1)
    assert status == 201, body
    session_id = body["session_id"]
    assert body["price_per_kwh"] == pytest.approx(0.30)
    cp = wait_cp(api, op, "CP2", lambda c: c["state"] == "CHARGING" and c["energy_kwh"] > 0,
                 "CP2 CHARGING with energy")
    assert cp["session_id"] == session_id and cp["driver_id"] == "D1"
    assert cp["power_kw"] > 0 and cp["cost"] >= 0
    # A second charge by the same driver, and another driver at the busy CP: refused.
    assert api.call("POST", "/charge", {"cp_id": "CP1"}, d1)[1]["reason"] == "driver_busy"
    assert api.call("POST", "/charge", {"cp_id": "CP2"}, d2)[:1] == (409,)
    # Someone else's session: 403; an unknown one: 404; a malformed id: 422.
    status, body, _ = api.call("POST", f"/sessions/{session_id}/stop", headers=d2)
    assert (status, body["reason"]) == (403, "not_your_session")
    assert api.call("POST", "/sessions/no-such-session/stop", headers=d2)[0] == 404
    assert api.call("POST", "/sessions/bad%24id/stop", headers=d2)[0] == 422
    _, mine, _ = api.call("GET", "/me/sessions", headers=d2)
    assert session_id not in [s["session_id"] for s in mine]
    # The operator's session list, filtered.
    for query, found in ((f"?cp=CP2&driver=D1&since={started - 5}", True), ("?driver=D2", False),
                         (f"?until={started - 3600}", False), ("?cp=CP1", False)):
        status, rows, _ = api.call("GET", "/sessions" + query, headers=op)
        assert status == 200
        assert (session_id in [r["session_id"] for r in rows]) == found, query
    status, body, _ = api.call("POST", f"/sessions/{session_id}/stop", headers=d1)
    assert status == 202, body

    def ticket():
        rows = api.call("GET", "/me/sessions", headers=d1)[1]
        row = next(r for r in rows if r["session_id"] == session_id)
        return row if row["finalised"] else None

    final = wait_until(ticket, timeout=30, interval=0.2, what="the session's ticket")
    assert final["energy_consumed_kwh"] > 0 and final["reason"] == "stopped"
    assert final["total_cost"] == pytest.approx(final["energy_consumed_kwh"] * 0.30, abs=0.011)
    status, body, _ = api.call("POST", f"/sessions/{session_id}/stop", headers=d1)
    assert (status, body["reason"]) == (409, "already_ended")
    wait_cp(api, op, "CP2", lambda c: c["state"] == "AVAILABLE", "CP2 AVAILABLE again")


def test_driver_auth_failures_and_bad_charge_bodies(api, web_net):
    d1 = driver(web_net, "D1")
    for headers in (basic("D1", "wrong"), basic("D9", "whatever"), basic("bad id!", "x"),
                    {"Authorization": "Basic %%%"}, {"Authorization": "Bearer " + "x" * 600}):
        status, body, _ = api.call("GET", "/me/sessions", headers=headers)
        assert status == 401 and "error" in body, headers
    for bad, code, reason in (({}, 422, "missing_field"), ({"cp_id": "../x"}, 422, "bad_cp_id"),
                              ({"cp_id": 7}, 422, "bad_cp_id"),
                              ({"cp_id": "CP1", "kwh": 5}, 422, "unknown_field"),
                              ({"cp_id": "CP7"}, 404, "unknown_cp")):
        status, body, _ = api.call("POST", "/charge", bad, d1)
        assert (status, body["reason"]) == (code, reason), bad
    status, body, _ = api.call("POST", "/charge", headers=d1, raw=b"x" * 20000)
    assert status == 413 and "error" in body


def test_repeated_driver_failures_are_throttled(web_net):
    # From another loopback address and an id no other test uses: the throttle's
    # keys (addr:127.0.0.2, driver:D2-guess) slow nobody else down.
    api = Http(web_net.http_url, source="127.0.0.2")
    waits = []
    for _ in range(8):
        started = time.monotonic()
        assert api.call("GET", "/me/sessions", headers=basic("D2guess", "nope"))[0] == 401
        waits.append(time.monotonic() - started)
    assert max(waits[:4]) < 0.2 and waits[-1] >= 0.4, waits


def test_pages_and_static_files_are_served_without_external_references(api):
    for page in ("=/", "=/driver"):
        status, html, headers = api.call("GET", page)
        assert status == 200 and "<html" in html
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "http://" not in html and "https://" not in html
    for name in ("console.js", "driver.js", "web.css"):
        status, text, _ = api.call("GET", f"=/static/{name}")
        assert status == 200 and "https://" not in text
    assert api.call("GET", "=/static/../auth.py")[0] == 404
