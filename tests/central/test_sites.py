"""Sites (issue 22, Central side): the allocation rule, and a real Central telling fake
Monitors their share on start, stop, fault, recovery and a site limit change."""
from __future__ import annotations

import subprocess
import sys

import pytest
from central_testkit import charge_request, charging_data, completion

from evcentral import sites
from evcentral.db import Database
from evcentral.sites import Claim, allocate
from evharness.procs import wait_until
from evwire import make
from evwire import types as t
from evwire.compat import unix_time


# -- the pure rule --------------------------------------------------------------------------
def test_fair_share_capped_by_each_cp_max():
    shares = allocate(22.0, 4.2, [Claim("A", 11, 1), Claim("B", 11, 2), Claim("C", 11, 3)])
    assert shares == {"A": 7.33, "B": 7.33, "C": 7.33}
    assert sum(shares.values()) <= 22.0


def test_a_capped_cp_leaves_its_rest_to_the_others():
    shares = allocate(22.0, 4.2, [Claim("A", 3.7, 1), Claim("B", 22, 2), Claim("C", 22, 3)])
    assert shares == {"A": 3.7, "B": 9.15, "C": 9.15}
    assert allocate(22.0, 4.2, [Claim("A", 11, 1)]) == {"A": 11.0}  # alone: its own max


def test_below_the_minimum_later_sessions_wait_first_come_first_served():
    claims = [Claim("late", 11, 30), Claim("early", 11, 10), Claim("mid", 11, 20)]
    assert allocate(9.0, 4.2, claims) == {"early": 4.5, "mid": 4.5, "late": 0.0}
    assert allocate(4.0, 4.2, claims) == {"early": 0.0, "mid": 0.0, "late": 0.0}
    assert allocate(22.0, 4.2, []) == {}


def test_the_sum_never_exceeds_the_site_limit():
    for max_kw in (4.2, 7.0, 10.0, 13.3, 22.0, 50.0):
        for n in range(1, 7):
            shares = allocate(max_kw, 4.2, [Claim(f"C{i}", 11, i) for i in range(n)])
            assert sum(shares.values()) <= max_kw + 1e-9
            assert all(kw == 0 or kw >= 4.2 or kw == 11 for kw in shares.values())


# -- the CLI --------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evcharge.cli", "central", *args],
                          capture_output=True, text=True, timeout=30)


def test_site_commands(tmp_path):
    db = str(tmp_path / "c.db")
    assert _cli("add-site", "S1", "--db", db, "--max-kw", "22").returncode == 0
    bad = _cli("add-cp", "CP1", "--db", db, "--site", "S9")
    assert bad.returncode == 4 and "error: unknown site S9" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert _cli("add-cp", "CP1", "--db", db, "--site", "S1").returncode == 0
    assert _cli("update-site", "S1", "--db", db, "--max-kw", "30").returncode == 0
    listed = _cli("list-sites", "--db", db, "--json")
    assert '"max_kw": 30.0' in listed.stdout and '"cps": ["CP1"]' in listed.stdout
    assert _cli("update-cp", "CP1", "--db", db, "--site", "").returncode == 0
    assert '"cps": []' in _cli("list-sites", "--db", db, "--json").stdout
    assert _cli("remove-site", "S1", "--db", db).returncode == 0
    gone = _cli("update-site", "S1", "--db", db, "--max-kw", "5")
    assert gone.returncode == 4 and "unknown site S1" in gone.stderr
    neg = _cli("add-site", "S2", "--db", db, "--max-kw", "-1")
    assert neg.returncode != 0 and "Traceback" not in neg.stderr


# -- a real Central -------------------------------------------------------------------------
@pytest.fixture
def site_central(central_factory):
    central = central_factory("CP1", "CP2", "CP3", start=False)
    db = Database(central.db_path)
    try:
        sites.add_site(db, "S1", 22.0, None)
        for cp_id in ("CP1", "CP2", "CP3"):
            sites.set_cp_site(db, cp_id, "S1")
    finally:
        db.close()
    return central.start()


def _limit(mon, kw: float, timeout: float = 5.0) -> dict:
    """The next set_charging_limit with this limit_kw (earlier ones skipped)."""
    try:
        return mon.recv(lambda m: m["type"] == t.SET_CHARGING_LIMIT and m["limit_kw"] == kw,
                        timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"{mon.cp_id}: no limit {kw} kW; inbox {mon.inbox}") from None


def _start(mon, driver, driver_id: str) -> str:
    reply = driver.request(charge_request(mon.cp_id, driver_id))
    assert reply["status"] == t.SUCCESS, reply
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    mon.answer(command)
    mon.status, mon.session_id = t.CP_CHARGING, command["session_id"]
    return command["session_id"]


def test_central_shares_the_site_and_tells_each_cp(site_central, tap):
    central = site_central
    mons = {cp: central.monitor(cp, connect=False) for cp in ("CP1", "CP2", "CP3")}
    for mon in mons.values():
        mon.connect(max_kw=11.0)
    # Idle in a site: nothing until a session starts (heartbeat answers carry the limit).
    assert mons["CP1"].heartbeat()["limit_kw"] == 0.0
    for mon in mons.values():
        mon.beat()

    s1 = _start(mons["CP1"], central.driver("D1"), "D1")
    msg = _limit(mons["CP1"], 11.0)
    assert msg["site_id"] == "S1" and msg["hold_s"] > 0 and msg["session_id"] == s1
    _start(mons["CP2"], central.driver("D2"), "D2")
    _limit(mons["CP2"], 11.0)
    s3 = _start(mons["CP3"], central.driver("D3"), "D3")
    for cp in ("CP1", "CP2", "CP3"):
        _limit(mons[cp], 7.33)

    # The driver sees the share in charging_status_update.
    tap.cp_event(charging_data("CP1", s1, "D1", 1.0, rate=7.3))
    assert tap.wait_for(lambda k, m: k == "D1" and m["type"] == t.CHARGING_STATUS_UPDATE
                        and m.get("limit_kw") == 7.33)

    # The admin view: the site's limit and its CPs' shares.
    data = central.admin("sites")["data"]
    assert data[0]["site_id"] == "S1" and data[0]["max_kw"] == 22.0
    assert data[0]["limits"] == {"CP1": 7.33, "CP2": 7.33, "CP3": 7.33}
    assert data[0]["live_kw"] == pytest.approx(7.3)  # the measured power of its sessions
    row = {r["cp_id"]: r for r in central.admin("list_cps")["data"]}["CP2"]
    assert row["site_id"] == "S1" and row["limit_kw"] == 7.33

    # A fault takes CP3 out: the others get their full 11 kW; recovery shares again.
    mons["CP3"].send(make(t.FAULT_NOTIFICATION, cp_id="CP3", fault_type="ground_fault",
                          timestamp=unix_time()))
    mons["CP3"].status = t.CP_FAULTED
    _limit(mons["CP1"], 11.0)
    _limit(mons["CP3"], 0.0)
    mons["CP3"].stop_beating()
    tap.cp_event(completion("CP3", s3, "D3", 1.0))  # its session ends with the fault

    # The operator lowers the site limit: the CLI's change is applied within a second or so.
    assert _cli("update-site", "S1", "--db", central.db_path, "--max-kw", "9").returncode == 0
    _limit(mons["CP1"], 4.5)
    _limit(mons["CP2"], 4.5)

    # A stop frees the power for the other at once.
    tap.cp_event(completion("CP1", s1, "D1", 2.0))
    _limit(mons["CP2"], 9.0)
    _limit(mons["CP1"], 0.0)
    assert central.admin("sites")["data"][0]["limits"]["CP2"] == 9.0


def test_a_cp_outside_any_site_gets_no_limit(central_factory):
    central = central_factory("CP1")
    assert "limit_kw" not in central.monitor("CP1").heartbeat()
    wait_until(lambda: central.admin("sites")["status"] == t.SUCCESS, what="admin sites")
    assert central.admin("sites")["data"] == []


def test_the_driver_cli_shows_its_limit():
    import io

    from evdriver.model import Progress
    from evdriver.render import TextOutput

    out = io.StringIO()
    text = TextOutput(out, io.StringIO())
    text.progress(Progress("s1", "CP1", 1.0, 7.3, 0.3, 60.0, 2, 7.33))
    text.progress(Progress("s1", "CP1", 1.0, 0.0, 0.3, 61.0, 2, 0.0))
    text.progress(Progress("s2", "CP2", 1.0, 7.3, 0.3, 60.0, 2))
    lines = out.getvalue().splitlines()
    assert "limit 7.33 kW " in lines[0] and "limit 0 (queued) " in lines[1]
    assert "limit" not in lines[2]
