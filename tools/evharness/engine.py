"""Start the Engine as a real process from tests and benchmarks (CPython only;
not part of the board bundle), next to evharness.sim for the hardware:

    sim = start_sim(procs, tmp_path)
    engine = start_engine(procs, tmp_path / "state", sim.link, "micropython", "--tick", "0.3")
    probe = engine.probe()        # a MonitorProbe connected to it
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from evengine.probe import MonitorProbe
from evharness.procs import Proc, ProcessGroup, free_port, wait_until

READY_MARK = "ready listening on"
RUNTIMES = ("cpython", "micropython")


class EngineHandle:
    def __init__(self, proc: Proc, port: int, state_dir: Path, link_key: str | None = None):
        self.proc = proc
        self.port = port
        self.state_dir = state_dir
        self.link_key = link_key

    def probe(self, timeout: float = 10.0, **options) -> MonitorProbe:
        """A probe that authenticates with the Engine's link key if it has one
        (link_key=None plays a stranger)."""
        options.setdefault("link_key", self.link_key)
        return MonitorProbe("127.0.0.1", self.port, connect_timeout=timeout, **options)

    def log(self) -> str:
        return self.proc.log()


def wait_ready(proc: Proc, mark: str = READY_MARK, timeout: float = 30.0) -> None:
    def ready_or_dead() -> bool:
        if mark in proc.log():
            return True
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()}")
        return False

    wait_until(ready_or_dead, timeout=timeout, interval=0.05, what=f"{proc.name} ready")


def engine_args(state_dir: Path, meter: Path | str, runtime: str, port: int,
                cp_id: str = "CP1") -> list[str]:
    return ["engine", "--cp-id", cp_id, "--listen", f"127.0.0.1:{port}", "--meter", str(meter),
            "--state-dir", str(state_dir), "--runtime", runtime, "--menu", "off"]


def write_link_key(path: Path, key: str | None = None) -> str:
    """A link key (random unless given) in a file of mode 0600; returns the key."""
    key = key or secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def start_engine(procs: ProcessGroup, state_dir: Path, meter: Path | str, runtime: str,
                 *extra: str, port: int | None = None, name: str = "engine",
                 link_key: str | None = None) -> EngineHandle:
    """`evcharge engine` against the bus at `meter`, ready to accept a Monitor;
    with link_key, the Engine demands it (given by a 0600 file)."""
    port = port or free_port()
    args = engine_args(Path(state_dir), meter, runtime, port) + list(extra)
    if link_key is not None:
        key_file = Path(state_dir).parent / f"{name}.link-key"
        write_link_key(key_file, link_key)
        args += ["--link-key-file", str(key_file)]
    proc = procs.evcharge(name, args)
    wait_ready(proc)
    return EngineHandle(proc, port, Path(state_dir), link_key)
