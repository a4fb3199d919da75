"""Chaos, CI's short budget: a few random cases of a whole network under faults.

A new seed each run (printed, and in the failure message with the command that
reproduces the case); EVCHARGE_CHAOS_SEED / EVCHARGE_CHAOS_CASES pin them.
`make chaos` runs the long version and writes docs/CHAOS.md.
"""
from __future__ import annotations

import io
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from evharness.chaos import runner
from evharness.chaos.faults import KINDS

# Every fault kind, broker restarts included (the producers renew themselves and the
# consumers re-read replaced topics: evkafka.renewal, evkafka.topic_ids).
CI_KINDS = KINDS


@pytest.fixture
def chaos_dir():
    # Short: the simulator's control socket (workdir/cp/CPn/meter.ctl) must fit sockaddr_un.
    path = Path(tempfile.mkdtemp(prefix="chaos", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(1200)
def test_chaos_short_budget(chaos_dir, capsys):
    seed = int(os.environ.get("EVCHARGE_CHAOS_SEED") or random.randrange(1, 1_000_000))
    cases = int(os.environ.get("EVCHARGE_CHAOS_CASES") or 10)
    with capsys.disabled():
        print(f"\nchaos seed {seed} ({cases} cases)", flush=True)
    out = io.StringIO()
    results = runner.run(seed, list(range(1, cases + 1)), chaos_dir, kinds=CI_KINDS, stream=out)
    with capsys.disabled():
        print(out.getvalue(), flush=True)
    failed = [r for r in results if not r["ok"]]
    assert not failed, "invariant violations:\n" + out.getvalue()


# Cases that found bugs (docs/CHAOS.md, "Bugs this runner found"), run as they were found.
REGRESSIONS = [
    (2024, 1, KINDS),  # broker restart: Central's producer fatally failed
    (434192, 3, KINDS),  # broker restart: producers stuck, consumers at stale offsets
    (801309, 2, tuple(k for k in KINDS if "broker" not in k)),  # late start after failure
    (790365, 43, KINDS),  # broker restart: producer ids handed out again, records dropped
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed,case,kinds", REGRESSIONS,
                         ids=[f"seed_{s}_case_{c}" for s, c, _k in REGRESSIONS])
def test_chaos_regression(chaos_dir, seed, case, kinds):
    out = io.StringIO()
    results = runner.run(seed, [case], chaos_dir, kinds=kinds, stream=out)
    assert results and results[0]["ok"], out.getvalue()
