"""Secrets stay out of `ps` and out of other users' reach (docs/SECURITY.md, hygiene).

A small real network as the demo starts it (Central, a CP with its simulator,
Engine and Monitor, a driver charging, an operator watching the list): while it
runs, no process's command line (/proc/*/cmdline, what `ps` shows to everyone on
the host) holds any CP secret, driver secret, link key or the admin token, and
every file holding a secret, telemetry or billing data is mode 0600.
"""
from __future__ import annotations

import stat
from dataclasses import fields
from pathlib import Path

from e2ekit import session_id_of, wait_charging, wait_finalised

from evharness import commands
from evharness.network import Network
from evharness.procs import wait_until


def every_secret(net: Network) -> dict[str, str]:
    """{what: secret} of the network: CP secrets and any other CP key (link keys), driver
    secrets, the admin token."""
    found = {"admin token": net.spec.admin_token}
    for cp in net.spec.cps:
        for f in fields(cp):
            value = getattr(cp, f.name)
            if ("secret" in f.name or "key" in f.name) and isinstance(value, str):
                found[f"{cp.cp_id} {f.name}"] = value
    for driver_id in net.spec.drivers:
        found[f"driver {driver_id} secret"] = net.spec.driver_secret(driver_id)
    assert all(len(secret) >= 8 for secret in found.values()), found
    return found


def command_lines() -> dict[int, str]:
    """{pid: command line} of every process on the host (as `ps` shows them)."""
    lines = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile, or not ours to read
            continue
        lines[int(entry.name)] = raw.replace(b"\0", b" ").decode(errors="replace")
    return lines


def assert_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600, f"{path} has mode {mode:04o}"


def test_no_secret_in_any_command_line_and_private_files(make_network, procs):
    net = make_network(cps=("CP1",), drivers=("D1",))
    run = net.start_driver("D1", "charge", "CP1", "--kwh", "0.3")
    session_id = session_id_of(run)
    wait_charging(run, kwh=0.05)
    watch = procs.start("admin-watch", commands.on_host(
        net.spec.driver_host, net.admin_args("list", "--watch")), env=net.env)
    wait_until(lambda: '"CP1"' in watch.log(), timeout=20, what="the operator's list")

    lines = command_lines()
    roles = ["central", "sim-hw", "engine", "monitor", "driver", "admin"]
    running = {role: [pid for pid, line in lines.items() if f"evcharge {role} " in line]
               for role in roles}
    assert all(running.values()), f"not every tier is running: {running}"
    for what, secret in every_secret(net).items():
        leaks = {pid: line for pid, line in lines.items() if secret in line}
        assert not leaks, f"the {what} is on a command line: {leaks}"

    watch.terminate()
    assert run.wait(90) == 0, run.proc.log()
    wait_finalised(net, session_id)

    db = Path(net.spec.db_path)
    outbox = net.spec.cp_dir("CP1") / "outbox.sqlite3"
    private = [db, Path(f"{db}.key"), outbox, net.spec.admin_token_file,
               net.spec.cp_secret_file("CP1"), net.spec.driver_secret_file("D1")]
    private += [p for p in (Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{outbox}-wal"),
                            Path(f"{outbox}-shm")) if p.exists()]
    state = net.spec.driver_dir("D1") / "state"
    private += [p for p in state.rglob("*") if p.is_file()]
    assert any(p.parent == state for p in private), "the driver kept no state file"
    for path in private:
        assert_private(path)
