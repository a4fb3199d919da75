"""CPU and memory of the processes under test (psutil), over a measured window.

CPU is reported as a percentage of one core (200 % = both cores of a 2-core
machine), from the difference of the process's user+system times over the
window, children included (an `evcharge` process may run its work in one).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import psutil


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _peak_rss_kb(pid: int) -> int | None:
    """VmHWM: the highest resident set size the process ever had (Linux only)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class CpuWindow:
    """Measure one process's CPU use between start() and stop()."""

    def __init__(self, pid: int):
        self.pid = pid
        self.proc = psutil.Process(pid)
        self._cpu0 = 0.0
        self._wall0 = 0.0

    def start(self) -> CpuWindow:
        self._cpu0 = _cpu_seconds(self.proc)
        self._wall0 = time.monotonic()
        return self

    def stop(self) -> dict:
        """{cpu_percent, rss_mib, peak_rss_mib}; empty values if the process has gone."""
        try:
            cpu = _cpu_seconds(self.proc) - self._cpu0
            rss = self.proc.memory_info().rss
        except psutil.Error:
            return {"cpu_percent": None, "rss_mib": None, "peak_rss_mib": None}
        wall = max(1e-6, time.monotonic() - self._wall0)
        peak = _peak_rss_kb(self.pid)
        return {"cpu_percent": round(100.0 * cpu / wall, 1),
                "rss_mib": round(rss / 2**20, 1),
                "peak_rss_mib": round(peak / 1024, 1) if peak is not None else None}


class MachineWindow:
    """Whole-machine CPU use and load over a window (other work shares the cores)."""

    def start(self) -> MachineWindow:
        psutil.cpu_percent(interval=None)  # primes the counter
        return self

    def stop(self) -> dict:
        return {"busy_percent_of_all_cores": psutil.cpu_percent(interval=None),
                "load_average_1min": round(os.getloadavg()[0], 2)}
