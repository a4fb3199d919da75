"""Fixtures for the walk-up tests: a whole network of real processes whose
charge points have a card reader (sim-hw's unit 3) and, when asked, the
Engine's key menu on a pseudo-terminal."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from walkupkit import WalkUpNetwork  # noqa: E402

from evharness.spec import CpSpec, NetworkSpec  # noqa: E402


@pytest.fixture
def make_network(procs, tmp_path, kafka_bootstrap, kafka_ns):
    """make(runtime="cpython", plugged=True, connection_timeout=60, menu=False) -> a
    started network with CP1, driver D1 (app) and driver D42 with card CARD42."""
    networks: list[WalkUpNetwork] = []

    def make(runtime: str = "cpython", plugged: bool = True, connection_timeout: float = 60.0,
             menu: bool = False) -> WalkUpNetwork:
        # A short workdir: the simulator's control socket path must fit sockaddr_un.
        spec = NetworkSpec(tmp_path / "n", cps=[CpSpec("CP1", plugged=plugged)],
                           drivers=["D1"], kafka=kafka_bootstrap, runtime=runtime)
        net = WalkUpNetwork(spec, procs, connection_timeout, menu)
        networks.append(net)
        net.start()
        net.add_driver("D42", "--name", "Ada L.", "--card", "CARD42")
        return net

    yield make
    for net in networks:
        net.close()
