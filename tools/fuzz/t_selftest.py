"""A target that crashes on purpose (EVCHARGE_FUZZ_SELFTEST=1): proves that the
runner counts, saves and fails on a crash (tests/fuzz/test_targets.py)."""
from __future__ import annotations

import random
from pathlib import Path

from fuzzlib import Run, Target


def _setup(_workdir: Path) -> Run:
    def run(data: bytes) -> None:
        if data == b"\x01":
            raise KeyError("deliberate crash")
    return run


def _generate(rng: random.Random) -> bytes:
    return bytes((rng.randint(0, 3),))


TARGETS = [Target("selftest.crash", _generate, _setup, "crashes on purpose")]
