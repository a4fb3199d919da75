"""Fixtures for the end-to-end tests: a whole network of real processes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from evharness.network import Network  # noqa: E402
from evharness.spec import CpSpec, NetworkSpec  # noqa: E402


@pytest.fixture
def make_network(procs, tmp_path, kafka_bootstrap, kafka_ns):
    """make(cps=("CP1",), drivers=("D1",), runtime=...) -> a started network.

    Broker: the test broker (kafka_bootstrap) under this test's namespace.
    Timers are the harness's short ones (heartbeat 0.5 s, Central's
    DISCONNECTED after 2 s, Engine grace 2 s, virtual time x30). Central serves
    TLS (certificates from `evcharge pki`): the kill matrix holds over TLS too.
    """
    networks: list[Network] = []

    def make(cps: tuple[str, ...] = ("CP1",), drivers: tuple[str, ...] = ("D1",),
             runtime: str = "micropython", **cp_options) -> Network:
        # A short workdir: the simulator's control socket path must fit sockaddr_un.
        spec = NetworkSpec(tmp_path / "n", cps=[CpSpec(c, **cp_options) for c in cps],
                           drivers=list(drivers), kafka=kafka_bootstrap, runtime=runtime,
                           tls=True)
        net = Network(spec, group=procs)
        networks.append(net)
        return net.start()

    yield make
    for net in networks:
        net.close()
