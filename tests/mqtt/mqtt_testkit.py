"""What the MQTT tests share besides fixtures: the broker's users and starting the bridge.

(A module of its own: `from conftest import` is ambiguous under --import-mode=importlib,
where every test folder's conftest is a module named conftest.)"""
from __future__ import annotations

import time

from evcharge.harness.procs import Proc, ProcessGroup, bin_path

USERS = {"bridge": "bridge-pass-1", "ha": "ha-pass-2", "viewer": "viewer-pass-3"}


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
