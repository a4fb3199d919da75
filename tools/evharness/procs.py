"""Start, watch and stop the network's processes (real processes, real sockets)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from evhost.ports import (  # noqa: F401  (re-exported: the harness's one import line)
    bin_path,
    free_port,
    micropython_binary,
    port_open,
    wait_port,
)

ROOT = Path(__file__).resolve().parents[2]
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()  # loaded here, not in the forked child


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn giving the child SIGTERM when this process dies, however it dies
    (SIGKILL, a crash): a killed demo or test run leaves no network behind. SIGTERM,
    not SIGKILL, so each program still stops its own children (the Engine runner its
    micropython). Linux only; None elsewhere, and None off the main thread, because
    the kernel sends the signal when the forking *thread* ends."""
    if _prctl is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()

    def preexec() -> None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):
    """Poll predicate() until truthy; return its value or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout}s (last: {last!r})")


class Proc:
    def __init__(self, name: str, popen: subprocess.Popen, log_path: Path):
        self.name = name
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self):
        """SIGKILL, as a crash: no clean-up runs in the process."""
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(10)

    def terminate(self, timeout: float = 10.0) -> int | None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode


class ProcessGroup:
    """Processes started for one test, demo or benchmark; all stopped at close().

    Each process runs in its own process group (so killing it kills its
    children too, e.g. an Engine's simulator) and logs to a file in log_dir.
    """

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []

    def start(self, name: str, argv: list[str], env: dict | None = None,
              cwd: str | Path | None = None, stdin=subprocess.DEVNULL) -> Proc:
        full_env = dict(os.environ)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        if env:
            full_env.update(env)
        n = sum(1 for p in self.procs if p.name == name)
        log_path = self.log_dir / (f"{name}.log" if n == 0 else f"{name}.{n}.log")
        log_file = open(log_path, "ab")
        popen = subprocess.Popen(
            argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=stdin, env=full_env,
            cwd=str(cwd or ROOT), start_new_session=True, preexec_fn=die_with_parent(),
        )
        log_file.close()
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def evcharge(self, name: str, args: list[str], **kw) -> Proc:
        return self.start(name, [bin_path("evcharge"), *args], **kw)

    def dump_logs(self, stream=sys.stderr, tail: int = 60):
        for p in self.procs:
            lines = p.log().splitlines()[-tail:]
            stream.write(f"----- {p.name} (pid {p.pid}, rc {p.popen.poll()}) -----\n")
            stream.write("\n".join(lines) + "\n")

    def close(self):
        for p in reversed(self.procs):
            p.terminate(timeout=5)
