"""Fixtures for the driver tests: a fake (or real) Central as a process, and
the driver run as a real process (`evcharge driver ...`)."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from evharness.procs import ProcessGroup, bin_path, free_port, wait_port, wait_until
from evhost.secretfile import write_secret_file

FAKE_CENTRAL = Path(__file__).with_name("fake_central.py")
FAKE_MONITOR = Path(__file__).with_name("fake_monitor.py")
# The tests import small helpers from driver_testkit.py beside this file
# (pytest runs with --import-mode=importlib, which adds no test folder to sys.path).
sys.path.insert(0, str(Path(__file__).parent))


from driver_testkit import driver_secret  # noqa: E402


@dataclass
class Network:
    procs: ProcessGroup
    central: str
    kafka: str
    state_dir: Path
    db: str | None = None  # the real Central's database: drivers are provisioned there
    provisioned: set[str] = field(default_factory=set)

    def secret_file(self, driver_id: str) -> Path:
        """The driver's secret file (0600), written, and added at Central, on first use."""
        path = self.state_dir.parent / "secrets" / driver_id
        if driver_id not in self.provisioned:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_secret_file(path, driver_secret(driver_id))
            if self.db is not None:
                added = subprocess.run([bin_path("evcharge"), "central", "add-driver", driver_id,
                                        "--db", self.db, "--secret-file", str(path)],
                                       capture_output=True, text=True, timeout=30)
                assert added.returncode == 0, added.stderr
            self.provisioned.add(driver_id)
        return path

    def driver_argv(self, driver_id: str, *args: str, central: str | None = None) -> list[str]:
        return [bin_path("evcharge"), "driver", "--id", driver_id,
                "--secret-file", str(self.secret_file(driver_id)),
                "--central", central or self.central, "--kafka", self.kafka,
                "--state-dir", str(self.state_dir), "--timeout", "8", *args]

    def driver(self, driver_id: str, *args: str, central: str | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the driver to its end; stdout and stderr captured apart."""
        return subprocess.run(self.driver_argv(driver_id, *args, central=central),
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def start_driver(self, driver_id: str, *args: str, name: str = "driver"):
        """Start the driver in the background (a Proc of the test's ProcessGroup)."""
        return self.procs.start(name, self.driver_argv(driver_id, *args))


def start_fake_central(procs: ProcessGroup, kafka: str, *extra: str, port: int | None = None):
    port = port or free_port()
    proc = procs.start("fake-central", [sys.executable, str(FAKE_CENTRAL),
                                        "--listen", f"127.0.0.1:{port}", "--kafka", kafka,
                                        *extra])
    wait_until(lambda: "ready" in proc.log() or not proc.alive(), timeout=30,
               what="fake Central ready")
    assert proc.alive(), proc.log()
    if "--no-socket" not in extra:
        wait_port("127.0.0.1", port, timeout=10, proc=proc.popen)
    return proc, f"127.0.0.1:{port}"


@pytest.fixture
def network(procs, kafka_bootstrap, kafka_ns, tmp_path):
    """Start a fake Central (extra args: its options) and return the Network."""

    def start(*extra: str) -> Network:
        _proc, central = start_fake_central(procs, kafka_bootstrap, *extra)
        return Network(procs, central, kafka_bootstrap, tmp_path / "state")

    return start



@pytest.fixture
def real_network(procs, kafka_bootstrap, kafka_ns, tmp_path):
    """The real Central (`evcharge central`) with a fake Monitor process per CP.

    start(*cp_ids, car_kwh=...) provisions the CPs as an operator would, starts
    Central and the Monitors, and returns once every CP shows AVAILABLE.
    """

    def start(*cp_ids: str, car_kwh: float = 0.6, price: float = 0.30) -> Network:
        db = str(tmp_path / "central.db")
        for cp_id in cp_ids:
            secret_file = write_secret_file(tmp_path / f"{cp_id}.secret", f"secret-{cp_id}")
            added = subprocess.run([bin_path("evcharge"), "central", "add-cp", cp_id, "--db", db,
                                    "--secret-file", str(secret_file), "--location",
                                    f"{cp_id} street"], capture_output=True, text=True)
            assert added.returncode == 0, added.stderr
        port = free_port()
        central = procs.evcharge("central", ["central", "--listen", f"127.0.0.1:{port}",
                                             "--db", db, "--kafka", kafka_bootstrap,
                                             "--price-per-kwh", str(price),
                                             # the fake Monitors charge kWh in seconds
                                             "--time-scale", "3600"])
        wait_until(lambda: "ready listening" in central.log() or not central.alive(), timeout=30,
                   what="Central ready")
        assert central.alive(), central.log()
        net = Network(procs, f"127.0.0.1:{port}", kafka_bootstrap, tmp_path / "state", db=db)
        for cp_id in cp_ids:
            start_fake_monitor(net, cp_id, car_kwh)
        wait_until(lambda: net.driver("observer", "list").stdout.count("AVAILABLE")
                   >= len(cp_ids), timeout=30, what="every CP AVAILABLE")
        return net

    return start


def start_fake_monitor(net: Network, cp_id: str, car_kwh: float):
    proc = net.procs.start(f"monitor-{cp_id}", [
        sys.executable, str(FAKE_MONITOR), "--central", net.central, "--kafka", net.kafka,
        "--cp-id", cp_id, "--car-kwh", str(car_kwh)], env={"EVCHARGE_SECRET": f"secret-{cp_id}"})
    wait_until(lambda: "ready" in proc.log() or not proc.alive(), timeout=30,
               what=f"fake Monitor {cp_id} ready")
    assert proc.alive(), proc.log()
    return proc
