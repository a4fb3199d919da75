"""The offline authorisation list and offline sessions at a real `evcharge central`
process (real broker; a fake Monitor on the socket, records produced as a Monitor signs
them): the list pushed at registration only when the Monitor's version differs, and again
when a driver is added; records of a session the CP started offline open it once (origin
offline, Central's price), are billed once and ticketed once; an unknown driver, a bad
mac or an unmarked record for an unknown session open nothing and are dead-lettered."""
from __future__ import annotations

import time

from central_testkit import charging_data, completion, secret_of

from evcentral.auth_lists import PAGE_ENTRIES
from evharness.procs import wait_until
from evwire import dumps, make, validate
from evwire import types as t
from evwire.compat import unix_time

CENTRAL_PRICE = 0.45


def _list(mon, timeout: float = 10.0) -> list[dict]:
    first = mon.recv_type(t.LOCAL_AUTH_LIST, timeout)
    pages = [first] + [mon.recv_type(t.LOCAL_AUTH_LIST) for _ in range(first["pages"] - 1)]
    for page in pages:
        validate(page)
        assert len(dumps(page)) <= 4096  # the payload bound of the Monitor's frames
    return pages


def _beat(mon, version: str | None) -> dict:
    fields = {"auth_list_version": version} if version else {}
    return mon.request(make(t.HEARTBEAT_REQUEST, cp_id=mon.cp_id, status=t.CP_AVAILABLE,
                            timestamp=unix_time(), **fields))


def test_the_list_is_pushed_when_the_monitors_version_differs(central_factory):
    central = central_factory("CP1", price=CENTRAL_PRICE)
    for number in range(40):  # two pages' worth, ids at their longest
        central.add_driver(f"D{number:02d}" + "x" * 61, card=f"C{number:02d}")
    for number in range(30):  # and cards at their longest: pages by size (one frame each)
        central.add_driver(f"E{number:02d}", card=f"K{number:02d}" + "y" * 61)
    central.add_driver("D42", card="CARD42")
    mon = central.monitor("CP1")
    pages = _list(mon)
    assert len(pages) >= 3 and [p["page"] for p in pages] == list(range(1, len(pages) + 1))
    assert max(len(p["entries"]) for p in pages) == PAGE_ENTRIES
    entries = [e for p in pages for e in p["entries"]]
    assert {"driver_id": "D42", "card_uid": "CARD42"} in entries and len(entries) == 71
    version = pages[0]["version"]
    assert {p["version"] for p in pages} == {version}
    assert {p["price_per_kwh"] for p in pages} == {CENTRAL_PRICE}
    assert _beat(mon, version)["status"] == t.SUCCESS
    mon.close()

    again = central.monitor("CP1", connect=False)  # registers announcing what it holds
    assert again.auth()["status"] == t.SUCCESS
    assert again.request(make(t.REGISTER_REQUEST, cp_id="CP1", timestamp=unix_time(),
                              max_charging_rate_kw=22.0,
                              auth_list_version=version))["status"] == t.SUCCESS
    central.add_driver("D43", card="CARD43")  # a driver added while Central runs
    deadline = time.monotonic() + 15
    pushed = None
    while pushed is None and time.monotonic() < deadline:
        _beat(again, version)
        try:
            pushed = again.recv_type(t.LOCAL_AUTH_LIST, timeout=0.5)
        except TimeoutError:
            continue
    assert pushed is not None and pushed["version"] != version
    assert pushed["page"] == 1
    again.close()


def test_an_offline_session_is_opened_once_billed_at_centrals_price_ticketed_once(
        central_factory, tap):
    central = central_factory("CP1", price=CENTRAL_PRICE)
    central.add_driver("D42", card="CARD42")
    session_id = "0b5e7c1a-0000-4000-8000-00000000f00d"
    started = unix_time() - 600
    marks = dict(offline=True, started_at=started, price_per_kwh=0.30)
    sample = dict(charging_data("CP1", session_id, "D42", 1.0), **marks)
    done = dict(completion("CP1", session_id, "D42", 2.0, reason=t.REASON_UNPLUGGED), **marks)
    tap.cp_event(sample)
    tap.cp_event(done)
    tap.cp_event(dict(done))  # the same completion again (a replayed outbox row)
    tickets = tap.wait_for(lambda key, m: key == "D42" and m["type"] == t.CHARGE_COMPLETION
                           and m["session_id"] == session_id, timeout=20)
    row = central.session_row(session_id)
    assert row["origin"] == "offline" and row["request_id"] == f"offline:{session_id}"
    assert row["price_per_kwh"] == CENTRAL_PRICE and row["started_at"] == started
    assert row["finalised"] == 1 and row["energy_kwh"] == 2.0
    assert row["cost"] == round(2.0 * CENTRAL_PRICE, 2) and row["cp_cost"] == 0.6
    assert tickets[0][1]["total_cost"] == row["cost"]
    live = tap.matching(lambda key, m: key == "D42" and m["type"] == t.CHARGING_DATA)
    assert [m["session_id"] for _k, m in live] == [session_id]  # live data reached the driver
    time.sleep(2.0)
    assert len(tap.matching(lambda key, m: m["type"] == t.CHARGE_COMPLETION
                            and m["session_id"] == session_id)) == 1
    assert central.log().count(f"session {session_id} billed") == 1


def test_what_opens_no_offline_session_is_dead_lettered(central_factory, tap):
    central = central_factory("CP1", price=CENTRAL_PRICE)
    central.add_driver("D42")
    marks = dict(offline=True, started_at=unix_time() - 60, price_per_kwh=0.30)
    unknown = "0b5e7c1a-0000-4000-8000-000000000001"
    forged = "0b5e7c1a-0000-4000-8000-000000000002"
    unmarked = "0b5e7c1a-0000-4000-8000-000000000003"
    tap.cp_event(dict(completion("CP1", unknown, "DX", 1.0), **marks))
    tap.cp_event(dict(completion("CP1", forged, "D42", 1.0), **marks),
                 secret=secret_of("CP2"))
    tap.cp_event(completion("CP1", unmarked, "D42", 1.0))
    db = central.open_db()
    try:
        def reasons():
            rows = db.conn.execute("SELECT reason FROM dead_letters").fetchall()
            return [r["reason"] for r in rows] if len(rows) >= 3 else None

        found = wait_until(reasons, timeout=20, interval=0.2, what="three dead letters")
    finally:
        db.close()
    assert any(f"offline session {unknown} at CP1: unknown driver DX" in r for r in found)
    assert any(r.startswith("bad mac") for r in found)
    assert any(f"unknown session {unmarked}" in r for r in found)
    for session_id in (unknown, forged, unmarked):
        assert central.session_row(session_id) == {}
