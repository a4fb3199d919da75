"""Hygiene at Central (docs/SECURITY.md): untrusted text cannot forge a log line or
drive the operator's terminal, files are private, the audit trail shows what happened."""
from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from central_testkit import ADMIN_TOKEN, charge_request

from evharness.procs import bin_path, wait_until
from evwire import make
from evwire import types as t
from evwire.auth import make_driver_auth_request

ADMIN_ENV = {"EVCHARGE_ADMIN_TOKEN": ADMIN_TOKEN}
FORGED = "<2>evcharge-central: FORGED"
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b[31m"


def admin(central, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path("evcharge"), "admin", "--central",
                           f"{central.host}:{central.port}", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(ADMIN_ENV if env is None else env)})


def test_an_injected_newline_in_an_id_stays_on_its_log_line(central):
    client = central.client()
    try:
        reply = client.request(make("bogus\n" + FORGED))  # the type names itself in the log
        assert reply["type"] == t.ERROR_RESPONSE
        reply = client.request(make(t.MANUAL_COMMAND, command="list\n" + FORGED, token="wrong"))
        assert reply["status"] == t.FAILURE
    finally:
        client.close()
    wait_until(lambda: central.log().count("\\n" + FORGED) >= 2, timeout=10,
               what="both attempts logged, escaped")
    lines = central.log().splitlines()
    assert not any(line.startswith(FORGED) for line in lines)
    assert all(line.startswith("<") for line in lines if line.strip()), "a line was split"


def test_terminal_escapes_in_a_driver_id_or_location_do_not_reach_the_admin_output(central):
    # An id with control characters is refused at the schema: it never gets further.
    stranger = central.client()
    try:
        reply = stranger.request(make_driver_auth_request(f"D{ESCAPES}1", "secret"))
        assert reply["type"] == t.ERROR_RESPONSE and reply["code"] == "validation_error"
    finally:
        stranger.close()
    # A location is free text: it is stored as given and stripped where it is shown.
    mon = central.monitor("CP1", connect=False)
    assert mon.auth()["status"] == t.SUCCESS
    assert mon.register(location=f"Bay{ESCAPES} 7")["status"] == t.SUCCESS
    mon.beat()
    driver = central.driver("D1")
    reply = driver.request(charge_request("CP1", "D1"))
    assert reply["status"] == t.SUCCESS, reply
    mon.answer(mon.recv_type(t.START_CHARGING_COMMAND))
    try:
        wait_until(lambda: central.cp_status("CP1") == t.CP_CHARGING, timeout=10,
                   what="CP1 charging")
        for args in (("list",), ("sessions",), ("audit",), ("stop", "CP1", "--reason",
                                                            f"why{ESCAPES}")):
            shown = admin(central, *args)
            assert shown.returncode == 0, shown.stderr
            assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout, args
        listed = admin(central, "list").stdout
        assert "Bay[2J]0;owned[31m 7" in listed  # what is left once control chars are gone
        # JSON output keeps the text exactly, escaped the JSON way.
        data = json.loads(admin(central, "list", "--json").stdout)["data"]
        assert data[0]["location"] == f"Bay{ESCAPES} 7"
    finally:
        mon.close()
        driver.close()


def test_admin_audit_shows_a_failed_token_attempt_and_a_stop_command(central):
    wrong = admin(central, "list", env={"EVCHARGE_ADMIN_TOKEN": "not-the-token"})
    assert wrong.returncode == 4 and "Central refused the admin token" in wrong.stderr
    stopped = admin(central, "stop", "CP1", "--reason", "inspection")
    assert stopped.returncode == 0, stopped.stderr

    shown = admin(central, "audit", "--json", "--limit", "5")
    assert shown.returncode == 0, shown.stderr
    entries = json.loads(shown.stdout)["data"]
    assert len(entries) <= 5
    failed = [e for e in entries if e["result"] == "failure (bad_token)"]
    assert failed and failed[0]["action"] == "list_cps" and failed[0]["address"] == "127.0.0.1"
    stop = [e for e in entries if e["action"] == "stop_cp CP1 (reason: inspection)"]
    assert stop and stop[0]["result"] == "success" and stop[0]["detail"].startswith("CP1 stopped")
    assert all(isinstance(e["at"], int) and e["who"] == "admin" for e in entries)

    text = admin(central, "audit", "--limit", "3")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["AT", "ADDRESS", "WHO", "ACTION", "RESULT", "DETAIL"]
    assert len(lines) == 4 and "stop_cp CP1" in text.stdout

    bad = admin(central, "audit", "--limit", "0")
    assert bad.returncode == 2 and "must be a whole number above 0" in bad.stderr
    too_many = central.admin("audit", limit=5000)
    assert too_many["status"] == t.FAILURE and too_many["reason"] == "bad_limit"


def test_central_files_are_private(central):
    central.admin("stop_cp", cp_id="CP1")  # a write: the WAL exists now
    db = Path(central.db_path)
    found = [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}.key"))
             if p.exists()]
    assert db in found and Path(f"{db}-wal") in found
    for path in found:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_admin_token_comes_from_a_private_file_or_the_environment(central, tmp_path):
    loose = tmp_path / "token"
    loose.write_text(ADMIN_TOKEN + "\n")
    loose.chmod(0o644)
    refused = admin(central, "--admin-token-file", str(loose), "list")
    assert refused.returncode == 5  # cliout.EXIT_CONFIG: a file the command needs is wrong
    assert refused.stderr.strip() == (f"evcharge admin: error: admin token: secret file {loose} "
                                      f"may be read by others (mode 0644): chmod 600 {loose}")
    loose.chmod(0o600)
    assert admin(central, "--admin-token-file", str(loose), "list", env={}).returncode == 0
    # The old flags are refused with the way to do it now, the value not echoed.
    gone = subprocess.run([bin_path("evcharge"), "admin", "--central", "127.0.0.1:1",
                           "--token", "tok-123", "list"], capture_output=True, text=True)
    assert gone.returncode == 2 and "--token is not accepted" in gone.stderr
    old = subprocess.run([bin_path("evcharge"), "central", "--listen", "127.0.0.1:0", "--db",
                          str(tmp_path / "x.db"), "--admin-token", "tok-123"],
                         capture_output=True, text=True)
    assert old.returncode == 2 and "--admin-token is not accepted" in old.stderr
    assert "tok-123" not in gone.stderr + old.stderr
