"""Fixtures for Central's tests: a real Central process, a Kafka tap, test peers.

Central's database is SQLite unless a test asks for `central_db`'s "postgresql":
the modules in PG_MODULES run every test that starts Central on both engines
(a private PostgreSQL cluster per test session, a new database per test), and
EVCHARGE_TEST_CENTRAL_DB=postgresql runs every other Central test on PostgreSQL.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from central_testkit import CentralUnderTest, KafkaTap  # noqa: E402

ENV_TEST_DB = "EVCHARGE_TEST_CENTRAL_DB"
PG_MODULES = {"test_charging.py", "test_recovery.py"}
ENGINES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc):
    if ("central_db" in metafunc.fixturenames
            and Path(str(metafunc.module.__file__)).name in PG_MODULES):
        metafunc.parametrize("central_db", ENGINES, indirect=True)


@pytest.fixture
def central_db(request):
    """None (a SQLite file) or (URL, key file): the database CentralUnderTest uses."""
    engine = getattr(request, "param", None) or os.environ.get(ENV_TEST_DB, "sqlite")
    if engine == "sqlite":
        return None
    return request.getfixturevalue("pg_database")


@pytest.fixture
def central_factory(procs, tmp_path, kafka_bootstrap, kafka_ns, central_db):
    """make(*cp_ids, extra args..., token=, heartbeat_timeout=) -> a started Central."""

    def make(*cp_ids: str, args: tuple[str, ...] = (), price: float | None = None,
             start: bool = True, **kw) -> CentralUnderTest:
        central = CentralUnderTest(procs, tmp_path, kafka_bootstrap, *args, db=central_db,
                                   **kw)
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
