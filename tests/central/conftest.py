"""Fixtures for Central's tests: a real Central process, a Kafka tap, test peers."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from central_testkit import CentralUnderTest, KafkaTap  # noqa: E402


@pytest.fixture
def central_factory(procs, tmp_path, kafka_bootstrap, kafka_ns):
    """make(*cp_ids, extra args..., token=, heartbeat_timeout=) -> a started Central."""

    def make(*cp_ids: str, args: tuple[str, ...] = (), price: float | None = None,
             start: bool = True, **kw) -> CentralUnderTest:
        central = CentralUnderTest(procs, tmp_path, kafka_bootstrap, *args, **kw)
        central.provision(*cp_ids, price=price)
        return central.start() if start else central

    return make


@pytest.fixture
def central(central_factory):
    """Central with CP1 and CP2 provisioned, admin token set."""
    return central_factory("CP1", "CP2")


@pytest.fixture
def tap(kafka_bootstrap, kafka_ns):
    kafka = KafkaTap(kafka_bootstrap)
    yield kafka
    kafka.close()
