"""Rotating a CP's secret loses no completion (defect 4a): Central keeps the previous
secret until a grace deadline, for cp-events records and for a Monitor's auth, against
a real `evcharge central` process, a real broker and the real `add-cp` command."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import time

from central_testkit import charge_request, completion, secret_of

from evcentral.db import Database
from evharness.procs import bin_path, wait_until
from evhost.secretfile import write_secret_file
from evwire import types as t

NEW = "brand-new-secret-of-CP1"


def rotate(central, tmp_path, cp_id: str, secret: str, *grace: str) -> str:
    """`evcharge central add-cp CP --secret-file F [--old-secret-grace S]`: its output."""
    path = write_secret_file(tmp_path / f"{cp_id}.new-secret", secret)
    done = subprocess.run([bin_path("evcharge"), "central", "add-cp", cp_id, "--secret-file",
                           str(path), "--db", central.db_path, *grace],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    central.secrets[cp_id] = secret
    return done.stdout


def start_session(central, mon, driver_id: str) -> str:
    driver = central.driver(driver_id)
    reply = driver.request(charge_request(mon.cp_id, driver_id))
    driver.close()
    assert reply["status"] == t.SUCCESS, reply
    mon.answer(mon.recv_type(t.START_CHARGING_COMMAND))
    mon.status, mon.session_id = t.CP_CHARGING, reply["session_id"]
    return reply["session_id"]


def tickets(tap, session_id: str) -> list[dict]:
    return [m for _k, m in tap.matching(lambda k, m: m["type"] == t.CHARGE_COMPLETION
                                        and m.get("session_id") == session_id)]


def dead_letters(central) -> list[tuple[str, str]]:
    """(reason, record key) of every dead letter Central stored."""
    db = sqlite3.connect(central.db_path, timeout=10)
    try:
        return db.execute("SELECT reason, record_key FROM dead_letters ORDER BY id").fetchall()
    finally:
        db.close()


def test_a_completion_signed_before_the_rotation_is_billed_once(central, tap, tmp_path):
    mon = central.monitor("CP1").beat()
    session = start_session(central, mon, "D1")
    said = rotate(central, tmp_path, "CP1", NEW)  # default grace: 24 h
    assert "new secret" in said and "86400" in said

    old_signed = completion("CP1", session, "D1", 2.0)
    tap.cp_event(old_signed, secret=secret_of("CP1"))
    tap.wait_for(lambda k, m: m["type"] == t.CHARGE_COMPLETION and m["session_id"] == session)
    tap.cp_event(dict(old_signed))  # the Monitor's retry: the same message again
    row = central.session_row(session)
    assert row["finalised"] == 1 and row["energy_kwh"] == 2.0 and round(row["cost"], 6) == 0.6
    wait_until(lambda: "signed with the CP's previous secret" in central.log(), timeout=10,
               what="the warning that CP1 still signs with its old secret")

    # The new secret works as well; a stranger's key still does not.
    mon2 = central.monitor("CP2").beat()
    other = start_session(central, mon2, "D2")
    tap.cp_event(completion("CP2", other, "D2", 1.0), secret="not-any-secret-of-CP2")
    wait_until(lambda: any(key == "CP2" for _r, key in dead_letters(central)), timeout=15,
               what="the badly signed CP2 record set aside")
    time.sleep(1.0)  # the duplicate was consumed long before: it billed nothing more
    assert len(tickets(tap, session)) == 1
    assert [key for _r, key in dead_letters(central)] == ["CP2"]
    mon.close()
    mon2.close()


def test_after_the_grace_the_old_secret_is_dead_lettered(central, tap, tmp_path):
    mon = central.monitor("CP1").beat()
    session = start_session(central, mon, "D1")
    rotate(central, tmp_path, "CP1", NEW, "--old-secret-grace", "1")
    time.sleep(1.5)

    tap.cp_event(completion("CP1", session, "D1", 2.0), secret=secret_of("CP1"))
    wait_until(lambda: dead_letters(central), timeout=15, what="the late record set aside")
    [(reason, key)] = dead_letters(central)
    assert key == "CP1" and "bad mac" in reason
    assert central.session_row(session)["finalised"] == 0

    tap.cp_event(completion("CP1", session, "D1", 2.5), secret=NEW)  # the Monitor, updated
    tap.wait_for(lambda k, m: m["type"] == t.CHARGE_COMPLETION and m["session_id"] == session)
    assert central.session_row(session)["energy_kwh"] == 2.5
    assert len(tickets(tap, session)) == 1
    mon.close()


def test_a_monitor_may_log_in_with_the_old_secret_until_the_grace_ends(central, tmp_path):
    rotate(central, tmp_path, "CP1", NEW, "--old-secret-grace", "2")
    rotate(central, tmp_path, "CP2", "brand-new-secret-of-CP2", "--old-secret-grace", "0")

    old = central.monitor("CP1", connect=False)
    old.secret = secret_of("CP1")
    assert old.auth()["status"] == t.SUCCESS
    old.close()
    assert "CP1 still uses its previous secret" in central.log()

    at_once = central.monitor("CP2", connect=False)
    at_once.secret = secret_of("CP2")
    assert at_once.auth()["status"] != t.SUCCESS  # grace 0: refused at once
    at_once.close()

    time.sleep(2.5)
    late = central.monitor("CP1", connect=False)
    late.secret = secret_of("CP1")
    assert late.auth()["status"] != t.SUCCESS
    late.close()
    fresh = central.monitor("CP1")  # the new secret, from the testkit's table
    assert fresh.heartbeat()["status"] == t.SUCCESS
    fresh.close()


def test_the_previous_secret_is_stored_encrypted_and_kept_by_a_repeat(tmp_path):
    db = Database(tmp_path / "c.db")
    try:
        db.add_cp("CP1", "first-secret-value")
        db.update_cp("CP1", secret="second-secret-value", old_secret_grace_s=60)
        row = db.conn.execute("SELECT prev_secret_enc, prev_secret_until FROM cps").fetchone()
        assert b"first-secret-value" not in bytes(row["prev_secret_enc"])
        previous = db.cp_previous_secret("CP1")
        assert previous is not None and previous[0] == "first-secret-value"
        assert time.time() + 55 < previous[1] <= time.time() + 60
        # The same secret again (a re-run of the command) does not end the grace.
        db.update_cp("CP1", secret="second-secret-value", old_secret_grace_s=0)
        assert db.cp_previous_secret("CP1") == previous
        db.update_cp("CP1", secret="third-secret-value", old_secret_grace_s=0)
        assert db.cp_previous_secret("CP1") is None
        assert db.cp_secret("CP1") == "third-secret-value"
    finally:
        db.close()
    raw = (tmp_path / "c.db").read_bytes()
    assert b"first-secret-value" not in raw and b"second-secret-value" not in raw
