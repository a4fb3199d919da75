"""Start the virtual hardware as a real process from tests, the demo and
benchmarks (the Engine's tests use it too):

    sim = start_sim(procs, tmp_path, "--soc", "50")
    sim.link          # the path to give the Engine (--meter)
    sim.command("unplug")["plugged"]  -> False
"""
from __future__ import annotations

import sys
from pathlib import Path

from evharness.procs import Proc, ProcessGroup, wait_until
from evsim.control import ControlClient

READY_MARK = "ready link="


class SimHandle:
    def __init__(self, proc: Proc, link: Path, control: Path):
        self.proc = proc
        self.link = link
        self.control = control
        self.client = ControlClient(control)

    def command(self, line: str) -> dict:
        return self.client.command(line)

    def status(self) -> dict:
        return self.client.command("status")

    def stop(self) -> int | None:
        self.client.close()
        return self.proc.terminate()


def wait_ready(proc: Proc, timeout: float = 20.0) -> None:
    """Wait for the process's "ready link=" line; fail early if it exited."""

    def ready_or_dead() -> bool:
        if READY_MARK in proc.log():
            return True
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()}")
        return False

    wait_until(ready_or_dead, timeout=timeout, interval=0.05, what=f"{proc.name} ready")


def start_sim(procs: ProcessGroup, directory: Path, *args: str, name: str = "sim-hw",
              link_name: str = "meter") -> SimHandle:
    """`evcharge sim-hw --link DIRECTORY/LINK_NAME ARGS...`, ready to use."""
    link = Path(directory) / link_name
    control = Path(str(link) + ".ctl")
    proc = procs.evcharge(name, ["sim-hw", "--link", str(link), *args])
    wait_ready(proc)
    return SimHandle(proc, link, control)


def start_pymodbus_bus(procs: ProcessGroup, directory: Path, *args: str,
                       name: str = "pymodbus-bus", link_name: str = "pymodbus") -> Path:
    """`python -m evsim.pymodbus_bus --link DIRECTORY/LINK_NAME ARGS...`; returns the link."""
    link = Path(directory) / link_name
    proc = procs.start(name, [sys.executable, "-m", "evsim.pymodbus_bus", "--link", str(link),
                              *args])
    wait_ready(proc)
    return link
