"""A driver command running in the background, its `--json` output read as it comes.

stdout (one JSON object per line) goes to a file of its own, stderr to the
process log, so the events can be parsed while the program runs and read
again after it was killed.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from evharness.procs import Proc, ProcessGroup, die_with_parent, wait_until


class DriverRun:
    def __init__(self, proc: Proc, events_path: Path):
        self.proc = proc
        self.events_path = events_path
        self._offset = 0
        self._partial = b""

    @classmethod
    def start(cls, group: ProcessGroup, name: str, argv: list[str], env: dict[str, str],
              out_dir: Path, cwd: Path) -> DriverRun:
        out_dir.mkdir(parents=True, exist_ok=True)
        n = sum(1 for p in group.procs if p.name == name)
        suffix = "" if n == 0 else f".{n}"
        events_path = out_dir / f"events{suffix}.jsonl"
        log_path = group.log_dir / f"{name}{suffix}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        with open(events_path, "ab") as out, open(log_path, "ab") as err:
            popen = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                     env=full_env, cwd=str(cwd), start_new_session=True,
                                     preexec_fn=die_with_parent())
        proc = Proc(name, popen, log_path)
        group.procs.append(proc)  # so the group stops it with the rest
        return cls(proc, events_path)

    def alive(self) -> bool:
        return self.proc.alive()

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.popen.wait(timeout)

    def events(self) -> list[dict]:
        """Every JSON object printed so far (lines that are not JSON are skipped)."""
        try:
            raw = self.events_path.read_bytes()
        except OSError:
            return []
        return [e for e in (json_object(line) for line in raw.splitlines(keepends=True)) if e]

    def new_events(self) -> list[dict]:
        """The objects printed since the previous call (complete lines only)."""
        try:
            with open(self.events_path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except OSError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for the rest
        return [e for e in (json_object(line) for line in lines) if e]

    def wait_event(self, predicate, timeout: float = 30.0, what: str = "driver event") -> dict:
        def found():
            return next((e for e in self.events() if predicate(e)), None)

        return wait_until(found, timeout=timeout, interval=0.1, what=what)


def json_object(line: str | bytes) -> dict | None:
    """The JSON object on one --json output line, or None for any other line."""
    line = line.strip()
    if line[:1] not in ("{", b"{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
