"""What the MQTT tests share besides fixtures: the broker's users and starting the bridge.

(A module of its own: `from conftest import` is ambiguous under --import-mode=importlib,
where every test folder's conftest is a module named conftest.)"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evharness.procs import Proc, ProcessGroup, bin_path
from evhost.secretfile import read_secret_file
from evwire import dumps, make
from evwire import types as t

USERS = {"bridge": "bridge-pass-1", "ha": "ha-pass-2", "viewer": "viewer-pass-3"}


@dataclass
class Embedded:
    """The `embedded` fixture: a bridge with the embedded broker it started."""
    bridge: Proc
    port: int
    produce: Callable[[str, bytes], None]
    state_dir: Path
    args: tuple[str, ...]  # the bridge's arguments after --kafka

    def password(self, user: str = "homeassistant") -> str:
        return read_secret_file(self.state_dir / f"{user}.password")


def status(cp_id: str, state: str, event: str = "state", **fields) -> bytes:
    """A cp-status record as Central writes it."""
    return dumps(make(t.CP_STATUS, cp_id=cp_id, state=state, event=event,
                      timestamp=1_800_000_000, location="Bay 1", max_kw=22.0, **fields))


def start_bridge(procs: ProcessGroup, kafka: str, *args: str, name: str = "mqtt-bridge",
                 env: dict | None = None) -> Proc:
    proc = procs.start(name, [bin_path("evcharge"), "mqtt-bridge", "--kafka", kafka,
                              "--log-level", "debug", *args], env=env)
    deadline = time.monotonic() + 30
    while "publishing live" not in proc.log():
        assert proc.alive(), proc.log()
        assert time.monotonic() < deadline, proc.log()
        time.sleep(0.05)
    return proc
