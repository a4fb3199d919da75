"""`evcharge demo` never leaves its network behind: not when its output pipe closes
and Ctrl-C comes (`evcharge demo --keep | tee log`), not when it is SIGKILLed."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

from evharness.procs import bin_path, wait_until

KEEP_END = b"Ctrl-C stops everything"


def started_at(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def descendants(root: int) -> dict[int, str]:
    """pid -> start time of every live process below `root`."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        start = started_at(pid)
        if start is not None:
            found[pid] = start
        todo.extend(children.get(pid, []))
    return found


def survivors(procs: dict[int, str]) -> list[str]:
    alive = [pid for pid, start in procs.items() if started_at(pid) == start]
    out = []
    for pid in alive:
        try:
            out.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()[:150]!r}")
        except OSError:
            pass
    return out


def read_until(fd: int, word: bytes, proc: subprocess.Popen, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while word not in seen and time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen


def start_demo(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, int, Path]:
    reader, writer = os.pipe()
    stderr_path = tmp_path / "demo.stderr"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen([bin_path("evcharge"), "demo", "--cps", "2", "--workdir",
                                 str(tmp_path / "demo"), *extra], stdout=writer, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    os.close(writer)
    return proc, reader, stderr_path


def kill_all(proc: subprocess.Popen, procs: dict[int, str]) -> None:
    """Clean-up after a failed test: nothing of it may outlive the test run."""
    for pid, start in procs.items():
        if started_at(pid) == start:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_keep_piped_then_ctrl_c_stops_the_whole_network(tmp_path):
    proc, reader, stderr_path = start_demo(tmp_path, "--keep")
    network: dict[int, str] = {}
    try:
        story = read_until(reader, KEEP_END, proc, timeout=240)
        assert KEEP_END in story, story.decode(errors="replace")[-3000:]
        network = descendants(proc.pid)
        assert len(network) >= 7, network  # broker, Central, 2 x (sim, Engine, Monitor)
        os.close(reader)  # `tee` ends with the Ctrl-C: the demo's stdout has no reader
        reader = -1
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0
        errors = stderr_path.read_text(errors="replace")
        assert "Traceback" not in errors and "BrokenPipe" not in errors, errors
        wait_until(lambda: not survivors(network), timeout=10,
                   what="every process the demo started gone")
    finally:
        if reader >= 0:
            os.close(reader)
        kill_all(proc, network)


def test_a_sigkilled_demo_takes_its_network_with_it(tmp_path):
    proc, reader, _ = start_demo(tmp_path)
    network: dict[int, str] = {}
    try:
        story = read_until(reader, b"network up", proc, timeout=120)
        assert b"network up" in story, story.decode(errors="replace")[-3000:]
        network = descendants(proc.pid)
        assert len(network) >= 7, network
        proc.kill()  # no clean-up runs in the demo: the children must notice by themselves
        proc.wait(10)
        wait_until(lambda: not survivors(network), timeout=30,
                   what=f"the dead demo's processes gone: {survivors(network)}")
    finally:
        os.close(reader)
        kill_all(proc, network)
