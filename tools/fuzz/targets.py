"""Every CPython fuzz target, by name (modules imported only when their target runs)."""
from __future__ import annotations

import importlib
import os

from fuzzlib import Target

# name -> module defining TARGETS (a list of Target)
MODULES = {
    "wire.feed": "t_wire",
    "wire.loads": "t_wire",
    "wire.validate": "t_wire",
    "central.tcp": "t_central",
    "central.kafka": "t_central_kafka",
    "engine.link": "t_engine",
    "engine.link_auth": "t_engine_auth",
    "monitor.engine": "t_monitor",
    "monitor.central": "t_monitor",
    "monitor.link_auth": "t_monitor_auth",
    "driver.events": "t_driver",
}

if os.environ.get("EVCHARGE_FUZZ_SELFTEST"):
    MODULES["selftest.crash"] = "t_selftest"

ABOUT = {"mp.wire": "FrameDecoder, loads and validate under the MicroPython unix port"}


def names() -> list[str]:
    return list(MODULES)


def by_name(name: str) -> Target:
    if name not in MODULES:
        raise SystemExit(f"fuzz: error: unknown target '{name}'")
    module = importlib.import_module(MODULES[name])
    return next(t for t in module.TARGETS if t.name == name)


def about(name: str) -> str:
    return ABOUT.get(name) or by_name(name).about
