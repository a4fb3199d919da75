"""Fixtures for the OCPP gateway tests: the real Central (`evcharge central
--ocpp`) as a process, real `evcharge driver` and `evcharge admin` processes,
and simulated commercial chargers (sim_charger.py, on the `ocpp` package) over
real WebSockets."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from evharness import commands
from evharness.drivers import DriverRun
from evharness.procs import Proc, ProcessGroup, bin_path, free_port, wait_until
from evhost.secretfile import write_secret_file

sys.path.insert(0, str(Path(__file__).parent))  # sim_charger (--import-mode=importlib)

from ocpp_testkit import PRICE  # noqa: E402
from sim_charger import ChargerRig  # noqa: E402


@dataclass
class OcppNetwork:
    procs: ProcessGroup
    tmp: Path
    central: Proc
    central_at: str
    ocpp_url: str
    kafka: str
    db: str
    token_file: Path
    rigs: list[ChargerRig] = field(default_factory=list)

    def charger(self, cp_id: str, password: str | None = None, **options) -> ChargerRig:
        """A simulated charger (not connected yet); password: its add-cp secret by default."""
        rig = ChargerRig(self.ocpp_url, cp_id,
                         f"secret-{cp_id}" if password is None else password, **options)
        self.rigs.append(rig)
        return rig

    def _driver_argv(self, driver_id: str, args: list[str]) -> list[str]:
        return [bin_path("evcharge"), *commands.driver(
            driver_id, self.central_at, self.kafka, self.tmp / "state" / driver_id,
            ["--timeout", "8", *args], secret_file=self.tmp / f"{driver_id}.secret")]

    def driver(self, driver_id: str, *args: str, timeout: float = 60):
        return subprocess.run(self._driver_argv(driver_id, list(args)), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start_driver(self, driver_id: str, *args: str) -> DriverRun:
        return DriverRun.start(self.procs, f"driver-{driver_id}",
                               self._driver_argv(driver_id, list(args)), {},
                               self.tmp / "driver-out" / driver_id, self.tmp)

    def admin(self, *args: str):
        done = subprocess.run([bin_path("evcharge"), *commands.admin(
            self.central_at, self.token_file, list(args))], capture_output=True, text=True,
            timeout=30, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["data"]

    def cp(self, cp_id: str) -> dict:
        return next(row for row in self.admin("list") if row["cp_id"] == cp_id)

    def wait_state(self, cp_id: str, state: str, timeout: float = 20) -> dict:
        return wait_until(lambda: (lambda row: row if row["status"] == state else None)(
            self.cp(cp_id)), timeout=timeout, interval=0.2, what=f"{cp_id} {state}")

    def sessions_of(self, driver_id: str) -> list[dict]:
        return [s for s in self.admin("sessions") if s["driver_id"] == driver_id]


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def ocpp_network(procs, kafka_bootstrap, kafka_ns, tmp_path):
    """start(cps=[...], drivers={id: card or None}) -> a running OcppNetwork."""
    started: list[OcppNetwork] = []

    def start(cps=("WB1",), drivers=None, extra: tuple[str, ...] = (),
              scheme: str = "ws") -> OcppNetwork:
        db = str(tmp_path / "central.db")
        evcharge = bin_path("evcharge")
        for cp_id in cps:
            secret = write_secret_file(tmp_path / f"{cp_id}.cpsecret", f"secret-{cp_id}")
            _run([evcharge, "central", "add-cp", cp_id, "--db", db, "--secret-file",
                  str(secret), "--location", f"{cp_id} car park", "--max-kw", "22"])
        for driver_id, card in (drivers or {"D1": "CARD1"}).items():
            secret = write_secret_file(tmp_path / f"{driver_id}.secret", f"secret-{driver_id}")
            _run([evcharge, "central", "add-driver", driver_id, "--db", db, "--secret-file",
                  str(secret), *(["--card", card] if card else [])])
        token = write_secret_file(tmp_path / "admin.token", "admin-token-for-tests")
        port, ocpp_port = free_port(), free_port()
        central = procs.evcharge("central", [
            "central", "--listen", f"127.0.0.1:{port}", "--db", db, "--kafka", kafka_bootstrap,
            "--ocpp", f"127.0.0.1:{ocpp_port}", "--price-per-kwh", str(PRICE),
            "--admin-token-file", str(token), "--heartbeat-timeout", "2",
            "--time-scale", "3600", *extra])  # the simulated chargers charge kWh in seconds
        wait_until(lambda: "ready listening" in central.log() or not central.alive(), timeout=30,
                   what="Central ready")
        assert central.alive(), central.log()
        net = OcppNetwork(procs, tmp_path, central, f"127.0.0.1:{port}",
                          f"{scheme}://127.0.0.1:{ocpp_port}/ocpp", kafka_bootstrap, db, token)
        started.append(net)
        return net

    yield start
    for net in started:
        for rig in net.rigs:
            try:
                rig.close()
            except Exception:  # already gone: nothing to tidy
                pass
