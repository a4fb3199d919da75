"""The documented commands: provisioning, `evcharge admin`, Central's own argument errors."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess

from central_testkit import ADMIN_TOKEN, charge_request
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

from evcentral.admin_view import STATE_STYLES, cps_view, plain, rich_table
from evharness.procs import bin_path, free_port
from evwire import types as t

ADMIN_ENV = {"EVCHARGE_ADMIN_TOKEN": ADMIN_TOKEN}  # tokens never on the command line


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path("evcharge"), *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_provisioning_commands(tmp_path):
    db = str(tmp_path / "c.db")
    added = run("central", "add-cp", "CP1", "--location", "Main St", "--max-kw", "22",
                "--db", db)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.split("secret: ")[1].split()[0]
    assert len(secret) >= 24
    # The secret is not stored in clear; the key beside the database is private.
    assert secret.encode() not in (tmp_path / "c.db").read_bytes()
    assert stat.S_IMODE(os.stat(db + ".key").st_mode) == 0o600
    on_argv = run("central", "add-cp", "CP2", "--secret", "s3cret-on-argv", "--db", db)
    assert on_argv.returncode == 2 and on_argv.stderr.splitlines()[-1].startswith(
        "evcharge central add-cp: error: --secret is not accepted")
    assert "s3cret-on-argv" not in on_argv.stderr + on_argv.stdout
    secret_file = tmp_path / "cp2.secret"
    secret_file.write_text("s3cret-of-cp2\n")
    secret_file.chmod(0o600)
    given = run("central", "add-cp", "CP2", "--secret-file", str(secret_file),
                "--price-per-kwh", "0.5", "--db", db)
    assert given.returncode == 0 and "secret:" not in given.stdout
    listed = json.loads(run("central", "list-cps", "--json", "--db", db).stdout)
    assert [(c["cp_id"], c["location"], c["max_kw"], c["price_per_kwh"]) for c in listed] == \
        [("CP1", "Main St", 22.0, None), ("CP2", "", 11.0, 0.5)]
    table = run("central", "list-cps", "--db", db).stdout
    assert "CP1" in table and "Main St" in table and "default" in table
    assert run("central", "remove-cp", "CP2", "--db", db).returncode == 0
    missing = run("central", "remove-cp", "CP2", "--db", db)
    assert missing.returncode == 4 and missing.stderr == \
        "evcharge central: error: unknown charge point CP2\n"

    assert run("central", "add-driver", "D42", "--name", "Ada", "--card", "C-1",
               "--db", db).returncode == 0
    twice = run("central", "add-driver", "D42", "--db", db)
    assert twice.returncode == 4 and "already exists" in twice.stderr
    card = run("central", "add-driver", "D43", "--card", "C-1", "--db", db)
    assert card.returncode == 4 and "card C-1" in card.stderr
    drivers = json.loads(run("central", "list-drivers", "--json", "--db", db).stdout)
    assert drivers == [{"driver_id": "D42", "name": "Ada", "card_uid": "C-1"}]
    assert run("central", "remove-driver", "D42", "--db", db).returncode == 0
    assert json.loads(run("central", "list-drivers", "--json", "--db", db).stdout) == []


def test_bad_arguments_are_one_line_errors(tmp_path):
    usage = run("central", "add-cp", "CP1", "--max-kw", "lots", "--db", str(tmp_path / "x.db"))
    assert usage.returncode == 2 and "is not a number" in usage.stderr
    assert "Traceback" not in usage.stderr
    no_db = run("central", "--listen", "127.0.0.1:1")
    assert no_db.returncode == 2 and "--db" in no_db.stderr
    bad_listen = run("central", "--listen", "nowhere", "--db", str(tmp_path / "x.db"))
    assert bad_listen.returncode == 2 and "HOST:PORT" in bad_listen.stderr
    unreadable = run("central", "list-cps", "--db", str(tmp_path / "no" / "such" / "dir.db"))
    assert unreadable.returncode == 5 and unreadable.stderr.startswith(
        "evcharge central: error: cannot open database")
    assert "Traceback" not in unreadable.stderr


def test_port_in_use_is_a_clear_error(central, tmp_path):
    clash = run("central", "--listen", f"{central.host}:{central.port}", "--db",
                str(tmp_path / "other.db"), "--kafka", central.kafka, "--kafka-timeout", "10")
    assert clash.returncode == 1
    assert f"cannot listen on {central.host}:{central.port}" in clash.stderr
    assert "Traceback" not in clash.stderr


def test_admin_cli_against_a_running_central(central):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    driver.request(charge_request("CP1", "D1"))
    mon.answer(mon.recv_type(t.START_CHARGING_COMMAND))
    address = f"{central.host}:{central.port}"

    listed = run("admin", "--central", address, "list", env=ADMIN_ENV)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["CP", "STATUS", "LOCATION"]
    row = next(line for line in lines if line.startswith("CP1"))
    assert "CHARGING" in row and "D1" in row
    assert "\033[" not in listed.stdout  # not a terminal: no colours

    as_json = run("admin", "--central", address, "list", "--json",
                  env={"EVCHARGE_ADMIN_TOKEN": ADMIN_TOKEN})
    data = json.loads(as_json.stdout)["data"]
    assert {r["cp_id"]: r["status"] for r in data} == {"CP1": "CHARGING", "CP2": "DISCONNECTED"}

    stopped = run("admin", "--central", address, "stop", "CP1", "--reason", "inspection",
                  env=ADMIN_ENV)
    assert stopped.returncode == 0 and "CP1 stopped" in stopped.stdout
    assert mon.recv_type(t.STOP_CP_COMMAND)["reason"] == "inspection"
    resumed = run("admin", "--central", address, "resume", "CP1", env=ADMIN_ENV)
    assert resumed.returncode == 0 and mon.recv_type(t.RESUME_CP_COMMAND)
    sessions = run("admin", "--central", address, "sessions", env=ADMIN_ENV)
    assert sessions.returncode == 0 and "D1" in sessions.stdout

    wrong = run("admin", "--central", address, "list", env={"EVCHARGE_ADMIN_TOKEN": "nope"})
    assert wrong.returncode == 4 and wrong.stderr.startswith(
        "evcharge admin: error: Central refused the admin token: it is not the one"), wrong.stderr
    unknown = run("admin", "--central", address, "stop", "CP9", env=ADMIN_ENV)
    assert unknown.returncode == 4 and unknown.stderr == \
        "evcharge admin: error: Central refused stop: unknown charge point CP9\n"
    mon.close()
    driver.close()


def test_admin_cli_when_central_is_unreachable():
    port = free_port()
    result = run("admin", "--central", f"127.0.0.1:{port}", "list",
                 env={"EVCHARGE_ADMIN_TOKEN": "x"})
    assert result.returncode == 3
    assert result.stderr == (f"evcharge admin: error: cannot reach Central at 127.0.0.1:{port} "
                             "(Connection refused)\n")


def test_admin_watch_refreshes_until_interrupted(central):
    proc = subprocess.Popen([bin_path("evcharge"), "admin", "--central",
                             f"{central.host}:{central.port}", "list", "--watch"],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, **ADMIN_ENV})
    seen = [proc.stdout.readline() for _ in range(8)]
    proc.send_signal(2)  # Ctrl-C
    assert proc.wait(10) == 0
    proc.stdout.close()
    assert sum(1 for line in seen if line.startswith("-- ")) >= 2, seen


def test_table_colours_follow_the_state():
    cps = [{"cp_id": f"CP{i}", "status": s, "location": "x", "price_per_kwh": 0.3,
            "max_charging_rate_kw": 11.0, "session": None} for i, s in enumerate(t.CP_STATES)]
    view = cps_view(cps)
    assert view.styles == [STATE_STYLES[s] for s in t.CP_STATES]
    console = Console(file=io.StringIO(), force_terminal=True, color_system="256", width=120)
    console.print(rich_table(view))
    drawn = console.file.getvalue()
    for state in t.CP_STATES:  # each row in its state's colour
        start = Style.parse(STATE_STYLES[state]).render("|", color_system=ColorSystem.EIGHT_BIT)
        start = start.split("|")[0]
        assert start.startswith("\033[") and start in drawn and state in drawn
    assert "\033[" not in plain(view)
