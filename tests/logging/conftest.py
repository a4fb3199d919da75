"""Fixtures for the logging tests: Central's testkit (a real Central, a fake Monitor)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "central"))
