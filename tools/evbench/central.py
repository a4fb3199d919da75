"""The Central under test: its own process, provisioned, killed and restarted at will.

Charge points are provisioned straight into Central's database (the
evcentral.db API that `evcharge central add-cp` uses, in one transaction:
ten thousand separate `add-cp` runs would take minutes). With a profile path
Central runs under pyinstrument (`python -m pyinstrument -r pstats`), which
writes the profile when Central exits after SIGTERM.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from evcentral.admin_client import AdminClient, CentralUnreachable, NoReply
from evcentral.db import Database, now_s
from evharness.procs import Proc, ProcessGroup, free_port, wait_port, wait_until

ADMIN_TOKEN = "evbench-admin"
CENTRAL_ENV = {"EVCHARGE_ADMIN_TOKEN": ADMIN_TOKEN}  # never on Central's command line
# What asking Central's admin port may raise (RuntimeError: a refusal, see list_cps).
ADMIN_ERRORS = (CentralUnreachable, NoReply, RuntimeError)
READY_TIMEOUT_S = 60.0


def provision(db_path: Path | str, secrets: dict[str, str],
              key_file: Path | None = None) -> None:
    """db_path: a SQLite file, or a postgresql:// URL with its key_file (--db-key-file)."""
    db = Database(db_path, key_file)
    try:
        with db.transaction() as c:
            c.executemany(
                "INSERT INTO cps (cp_id, location, max_kw, secret_enc, created_at)"
                " VALUES (?, 'bench', 22.0, ?, ?)",
                [(cp_id, db.box.encrypt(secret), now_s()) for cp_id, secret in secrets.items()])
    finally:
        db.close()


class CentralProcess:
    def __init__(self, workdir: Path, bootstrap: str, max_connections: int, log_level: str,
                 profile_path: Path | None = None, db: str | None = None,
                 extra_args: tuple[str, ...] = (), name: str = "central"):
        """db: another --db than workdir/central.db (a postgresql:// URL); extra_args:
        more flags (--db-key-file, --central-id); name: its log's name."""
        self.workdir = workdir
        self.db_path = db or workdir / "central.db"
        self.extra_args = list(extra_args)
        self.name = name
        self.bootstrap = bootstrap
        self.port = free_port()
        self.max_connections = max_connections
        self.log_level = log_level
        self.profile_path = profile_path
        self.group = ProcessGroup(workdir / "logs")
        self.proc: Proc | None = None
        self.started_at = 0.0
        self.ready_after_s: float | None = None

    def argv(self) -> list[str]:
        args = ["central", "--listen", f"127.0.0.1:{self.port}", "--db", str(self.db_path),
                "--kafka", self.bootstrap,
                "--max-connections", str(self.max_connections), "--log-level", self.log_level,
                *self.extra_args]
        if self.profile_path is None:
            return args
        return [sys.executable, "-m", "pyinstrument", "-r", "pstats",
                "-o", str(self.profile_path), "-m", "evcharge.cli", *args]

    def start(self) -> CentralProcess:
        argv = self.argv()
        self.started_at = time.monotonic()
        if self.profile_path is None:
            self.proc = self.group.evcharge(self.name, argv, env=CENTRAL_ENV)
        else:
            self.proc = self.group.start(self.name, argv, env=CENTRAL_ENV)
        wait_port("127.0.0.1", self.port, timeout=READY_TIMEOUT_S, proc=self.proc.popen)
        wait_until(lambda: "ready listening" in self.proc.log(), timeout=READY_TIMEOUT_S,
                   interval=0.02, what="Central ready")
        self.ready_after_s = time.monotonic() - self.started_at
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def kill(self) -> None:
        """SIGKILL: a crash, nothing of Central's clean-up runs."""
        if self.proc is not None:
            self.proc.kill()

    def stop(self) -> int | None:
        """SIGTERM and wait (a profiled Central writes its profile now)."""
        if self.proc is None:
            return None
        return self.proc.terminate(timeout=60)

    def list_cps(self) -> list[dict]:
        with AdminClient("127.0.0.1", self.port, token=ADMIN_TOKEN, timeout=30) as admin:
            reply = admin.command("list_cps")
        if reply.get("status") != "success":
            raise RuntimeError(f"list_cps refused: {reply.get('message') or reply}")
        return reply["data"]

    def log_tail(self, lines: int = 20) -> str:
        return "" if self.proc is None else "\n".join(self.proc.log().splitlines()[-lines:])

    def close(self) -> None:
        self.group.close()
