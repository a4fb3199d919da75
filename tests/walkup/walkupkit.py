"""A network whose Engines have what walk-up charging needs, and what the CP shows.

The harness's network (evharness.network) starts every tier through its
console command, each Engine with the card reader of its virtual hardware; here
each Engine also gets a short connection timeout, and optionally its key menu on
a pseudo-terminal that the test types into.
"""
from __future__ import annotations

import os
import subprocess
import tty

from evharness import commands
from evharness.network import Network, NetworkError, wait_ready
from evharness.procs import Proc, wait_until
from evharness.spec import NetworkSpec
from evhost.secretfile import write_secret_file


class WalkUpNetwork(Network):
    def __init__(self, spec: NetworkSpec, group, connection_timeout: float, menu: bool):
        super().__init__(spec, group)
        self.connection_timeout = connection_timeout
        self.menu = menu
        self.keyboards: dict[str, int] = {}  # cp_id -> master side of its menu's pty
        self._ttys: list[int] = []

    def start_engine(self, cp_id: str) -> Proc:
        args = commands.engine(self.spec, cp_id, self.engine_address(cp_id))
        args += ["--connection-timeout", f"{self.connection_timeout:g}"]
        if not self.menu:
            return self._start(f"engine-{cp_id}", self.spec.cp_host, args)
        args[args.index("--menu") + 1] = "on"
        master, slave = os.openpty()
        tty.setraw(master)
        self._ttys += [master, slave]
        self.keyboards[cp_id] = master
        name = f"engine-{cp_id}"
        proc = self.group.start(name, commands.on_host(self.spec.cp_host, args), env=self.env,
                                stdin=slave)
        self.procs[name] = proc
        wait_ready(proc)
        return proc

    def close(self) -> None:
        try:
            super().close()
        finally:
            for fd in self._ttys:
                os.close(fd)
            self._ttys.clear()

    # -- at the charge point -----------------------------------------------
    def swipe(self, cp_id: str, uid: str) -> None:
        """A card presented to the CP's reader (the virtual hardware's control channel)."""
        self.sim(cp_id, f"swipe {uid}")

    def type_keys(self, cp_id: str, text: str) -> None:
        os.write(self.keyboards[cp_id], text.encode())

    def shown(self, cp_id: str) -> str:
        """What the CP displayed: its Engine's log (walk-up lines included)."""
        return self.proc(f"engine-{cp_id}").log()

    def wait_shown(self, cp_id: str, text: str, timeout: float = 20.0) -> None:
        wait_until(lambda: text in self.shown(cp_id), timeout=timeout, interval=0.1,
                   what=f"{cp_id} showing {text!r}")

    # -- the operator ------------------------------------------------------
    def add_driver(self, driver_id: str, *options: str) -> None:
        """`evcharge central add-driver` on the live database, as an operator does, with
        the driver's secret in its 0600 file (which the driver's commands then use)."""
        secret_file = self.spec.driver_secret_file(driver_id)
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        write_secret_file(secret_file, self.spec.driver_secret(driver_id))
        argv = commands.on_host(self.spec.hub, ["central", "add-driver", driver_id, "--db",
                                                str(self.spec.db_path), "--secret-file",
                                                str(secret_file), *options])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **self.env})
        if done.returncode != 0:
            raise NetworkError(f"add-driver {driver_id}: {(done.stderr or done.stdout).strip()}")

    def session_row(self, session_id: str) -> dict | None:
        rows = [s for s in self.db_sessions() if s["session_id"] == session_id]
        return rows[0] if rows else None

    def wait_finalised(self, session_id: str, timeout: float = 40.0) -> dict:
        def finalised():
            row = self.session_row(session_id)
            return row if row is not None and row["finalised"] else None

        return wait_until(finalised, timeout=timeout, interval=0.2,
                          what=f"session {session_id} finalised at Central")
