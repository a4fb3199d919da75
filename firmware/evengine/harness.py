"""Start the Engine as a real process from tests and benchmarks (CPython only;
not part of the board bundle), next to evsim.harness for the hardware:

    sim = start_sim(procs, tmp_path)
    engine = start_engine(procs, tmp_path / "state", sim.link, "micropython", "--tick", "0.3")
    probe = engine.probe()        # a MonitorProbe connected to it
"""
from __future__ import annotations

from pathlib import Path

from evcharge.harness.procs import Proc, ProcessGroup, free_port, wait_until
from evengine.probe import MonitorProbe

READY_MARK = "ready listening on"
RUNTIMES = ("cpython", "micropython")


class EngineHandle:
    def __init__(self, proc: Proc, port: int, state_dir: Path):
        self.proc = proc
        self.port = port
        self.state_dir = state_dir

    def probe(self, timeout: float = 10.0, **options) -> MonitorProbe:
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


def start_engine(procs: ProcessGroup, state_dir: Path, meter: Path | str, runtime: str,
                 *extra: str, port: int | None = None, name: str = "engine") -> EngineHandle:
    """`evcharge engine` against the bus at `meter`, ready to accept a Monitor."""
    port = port or free_port()
    proc = procs.evcharge(name, engine_args(Path(state_dir), meter, runtime, port) + list(extra))
    wait_ready(proc)
    return EngineHandle(proc, port, Path(state_dir))
