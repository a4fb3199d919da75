"""The Engine's portable unit tests (tests/micropython/test_engine_*.py, fake
hardware) on both interpreters: every test function under CPython here, and
the same files under the micropython binary through tests/micropython/run.py.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
MP_DIR = ROOT / "tests" / "micropython"
MODULES = sorted(MP_DIR.glob("test_engine_*.py"))


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The portable modules import their helpers by this name, as on MicroPython.
if "engine_fakes" not in sys.modules:
    _load("engine_fakes", MP_DIR / "engine_fakes.py")


def _cases() -> list[tuple[ModuleType, str]]:
    cases = []
    for path in MODULES:
        module = _load("portable_" + path.stem, path)
        cases += [(module, name) for name in sorted(dir(module))
                  if name.startswith("test_") and callable(getattr(module, name))]
    return cases


CASES = _cases()


@pytest.mark.parametrize("module,function", CASES,
                         ids=[f"{m.__name__.removeprefix('portable_')}.{f}" for m, f in CASES])
def test_portable_on_cpython(module: ModuleType, function: str) -> None:
    getattr(module, function)()


def test_portable_on_micropython(micropython: str) -> None:
    names = [path.stem for path in MODULES]
    env = dict(os.environ, MICROPYPATH="shared:firmware:tests/micropython")
    done = subprocess.run([micropython, "-X", "heapsize=2M", "tests/micropython/run.py", *names],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert summary.startswith("micropython: ") and summary.endswith(" 0 failed"), summary
    assert not summary.startswith("micropython: 0 passed"), summary
