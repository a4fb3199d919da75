"""Fixtures of the fuzz tests: the fuzz targets (tools/fuzz) and Central's test kit."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for where in (ROOT / "tools" / "fuzz", ROOT / "tests" / "central"):
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))
