"""Fixtures for the end-to-end tests: a whole network of real processes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from evharness.network import Network  # noqa: E402
from evharness.spec import CpSpec, NetworkSpec  # noqa: E402

# The kill matrix runs with Central on each of its databases: the embedded SQLite file
# and PostgreSQL (a private cluster, a new database per test).
KILL_MATRIX = {"test_kill_central.py", "test_kill_monitor.py", "test_kill_engine.py",
               "test_kill_driver.py", "test_kill_broker.py"}


def pytest_generate_tests(metafunc):
    if ("central_database" in metafunc.fixturenames
            and Path(str(metafunc.module.__file__)).name in KILL_MATRIX):
        metafunc.parametrize("central_database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def central_database(request) -> tuple[str, Path | None]:
    """("", None): Central's SQLite file; (URL, key file) for PostgreSQL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return "", None
    return request.getfixturevalue("pg_database")


@pytest.fixture
def make_network(procs, tmp_path, kafka_bootstrap, kafka_ns, central_database):
    """make(cps=("CP1",), drivers=("D1",), runtime=...) -> a started network.

    Broker: the test broker (kafka_bootstrap) under this test's namespace.
    Timers are the harness's short ones (heartbeat 0.5 s, Central's
    DISCONNECTED after 2 s, Engine grace 2 s, virtual time x30). Central serves
    TLS (certificates from `evcharge pki`): the kill matrix holds over TLS too.
    Central's database: SQLite, or PostgreSQL in the kill matrix's second run.
    """
    networks: list[Network] = []
    db_url, db_key_file = central_database

    def make(cps: tuple[str, ...] = ("CP1",), drivers: tuple[str, ...] = ("D1",),
             runtime: str = "micropython", standby_central: bool = False,
             http: bool = False, **cp_options) -> Network:
        # A short workdir: the simulator's control socket path must fit sockaddr_un.
        spec = NetworkSpec(tmp_path / "n", cps=[CpSpec(c, **cp_options) for c in cps],
                           drivers=list(drivers), kafka=kafka_bootstrap, runtime=runtime,
                           tls=True, db_url=db_url, db_key_file=db_key_file,
                           standby_central=standby_central, http=http)
        net = Network(spec, group=procs)
        networks.append(net)
        return net.start()

    yield make
    for net in networks:
        net.close()
