"""Wire tests: the portable helpers and test modules of tests/micropython on CPython.

`vector` parametrizes a test over every golden vector; `portable_case` over
every test function of tests/micropython/test_wire_*.py (so the same files
run under both interpreters); `mpv` is tests/micropython/mp_vectors.py.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
MP_DIR = ROOT / "tests" / "micropython"


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The portable test modules import it by this name, as on MicroPython.
MP_VECTORS = sys.modules.get("mp_vectors") or load_module("mp_vectors", MP_DIR / "mp_vectors.py")
VECTORS = MP_VECTORS.load()


def portable_cases() -> list[tuple[str, str]]:
    cases = []
    for path in sorted(MP_DIR.glob("test_wire_*.py")):
        module = load_module("portable_" + path.stem, path)
        cases += [(module.__name__, name) for name in sorted(dir(module))
                  if name.startswith("test_") and callable(getattr(module, name))]
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "vector" in metafunc.fixturenames:
        metafunc.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
    if "portable_case" in metafunc.fixturenames:
        cases = portable_cases()
        metafunc.parametrize("portable_case", cases,
                             ids=[f"{m.removeprefix('portable_')}.{f}" for m, f in cases])


@pytest.fixture(scope="session")
def mpv() -> ModuleType:
    return MP_VECTORS
