"""A private PostgreSQL cluster for tests: initdb, pg_ctl start on a free port, stop.

    cluster = PgCluster.start()          # PgUnavailable if the binaries are missing
    url = cluster.create_database("t1")  # postgresql://evcharge@127.0.0.1:PORT/t1
    cluster.stop()

TCP connections need the password (scram-sha-256): it is in the cluster's pgpass
file (`pgpass`, mode 0600), which clients find through $PGPASSFILE, as libpq does;
the URLs carry none. initdb refuses to run as root: as root, the cluster runs as
`nobody` in a directory of its own under /tmp. fsync is off: test data only.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from evharness.procs import free_port

USER = "evcharge"
PASSWORD = "evcharge-test-password"
RUN_AS_WHEN_ROOT = "nobody"


class PgUnavailable(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) on this machine."""


def bin_dir() -> Path:
    """Where initdb and pg_ctl are: Debian's /usr/lib/postgresql/N/bin (newest N), or PATH."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                    key=lambda p: int(Path(p).parent.parent.name)
                    if Path(p).parent.parent.name.isdigit() else 0)
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    raise PgUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found: "
                        "apt-get install postgresql")


class PgCluster:
    def __init__(self, root: Path, port: int, bindir: Path):
        self.root = root
        self.port = port
        self.bindir = bindir
        self.pgpass = root / "pgpass"
        self.log = root / "server.log"

    @classmethod
    def start(cls) -> PgCluster:
        bindir = bin_dir()
        root = Path(tempfile.mkdtemp(prefix="evcharge-pg-"))
        cluster = cls(root, free_port(), bindir)
        try:
            cluster._init_and_start()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cluster

    def _as_owner(self) -> list[str]:
        return ["runuser", "-u", RUN_AS_WHEN_ROOT, "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self._as_owner(), *argv], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): "
                               f"{done.stderr.strip()[-2000:]}\n{log}")

    def _init_and_start(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        (self.root / "sock").mkdir()
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam(RUN_AS_WHEN_ROOT)
            for path in (self.root, self.root / "sock", pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(str(self.bindir / "initdb"), "-D", str(self.root / "data"), "-U", USER,
                  "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
                  "-E", "UTF8", "--no-locale", "-N")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-l",
                  str(self.log), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c full_page_writes=off -c max_connections=200", "start")
        fd = os.open(self.pgpass, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"127.0.0.1:{self.port}:*:{USER}:{PASSWORD}\n")

    def url(self, dbname: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        """A new, empty database; its URL (no password: $PGPASSFILE = self.pgpass)."""
        with psycopg.connect(self.url("postgres"), password=PASSWORD, autocommit=True,
                             connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m",
                      "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
