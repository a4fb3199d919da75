"""The driver against a whole network of real processes: the real Central, and
charge points made of virtual hardware (`evcharge sim-hw`), the Engine firmware
and the Monitor daemon, started by evharness.network as a user would."""
from __future__ import annotations

import signal

import pytest
from driver_testkit import json_lines

from evharness.network import Network
from evharness.procs import wait_until
from evharness.spec import CpSpec, NetworkSpec


@pytest.fixture
def charge_points(procs, tmp_path, kafka_bootstrap, kafka_ns):
    """start(*cp_ids, **CpSpec options) -> a started network with drivers D1 and D2."""
    networks: list[Network] = []

    def start(*cp_ids: str, **cp_options) -> Network:
        # A short workdir: the simulator's control socket path must fit sockaddr_un.
        spec = NetworkSpec(tmp_path / "n", cps=[CpSpec(c, **cp_options) for c in cp_ids],
                           drivers=["D1", "D2"], kafka=kafka_bootstrap, runtime="cpython")
        net = Network(spec, group=procs)
        networks.append(net)
        return net.start()

    yield start
    for net in networks:
        net.close()


def tickets_of(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("event") == "ticket"]


def test_charge_until_the_car_is_full(charge_points):
    # 0.3 kWh left in a small battery: the car ends the first session by itself.
    net = charge_points("CP1", battery_kwh=1.0, soc=70.0)
    meter_before = net.meter_kwh("CP1")
    full = net.driver("D1", "charge", "CP1", timeout=120)
    assert full.returncode == 0, full.stderr
    ticket = tickets_of(json_lines(full.stdout))
    assert len(ticket) == 1 and ticket[0]["reason"] == "ev_full", full.stdout
    billed = ticket[0]["energy_kwh"]
    assert abs(billed - (net.meter_kwh("CP1") - meter_before)) <= 0.001
    assert ticket[0]["cost"] == pytest.approx(billed * 0.30, abs=0.011)


def test_target_stop_early_busy_and_unknown(charge_points):
    net = charge_points("CP1", "CP2")
    target = net.start_driver("D1", "charge", "CP1", "--kwh", "0.3")
    target.wait_event(lambda e: e.get("event") == "progress", timeout=60, what="live data")
    busy = net.driver("D2", "charge", "CP1")
    assert busy.returncode == 4 and "CP1: refused:" in busy.stderr
    unknown = net.driver("D2", "charge", "CP9")
    assert unknown.returncode == 4 and "CP9: refused:" in unknown.stderr
    assert target.wait(90) == 0
    ticket = tickets_of(target.events())
    assert len(ticket) == 1 and ticket[0]["reason"] == "stopped"
    assert ticket[0]["energy_kwh"] >= 0.3

    early = net.start_driver("D2", "charge", "CP2")
    early.wait_event(lambda e: e.get("event") == "progress", timeout=60, what="live data")
    early.proc.popen.send_signal(signal.SIGINT)  # no terminal: stops without asking
    assert early.wait(60) == 0
    ticket = tickets_of(early.events())
    assert len(ticket) == 1 and ticket[0]["reason"] == "stopped"
    wait_until(lambda: net.cp_state("CP2") == "AVAILABLE", timeout=20, what="CP2 free")


def test_run_a_services_file(charge_points, tmp_path):
    net = charge_points("CP1", "CP2")
    services = tmp_path / "services.txt"
    services.write_text("CP1\nCPX  # not ours\nCP2\n")
    result = net.driver("D1", "run", str(services), "--kwh", "0.1", "--pause", "0.2",
                        timeout=120)
    assert result.returncode == 1, result.stderr  # one service refused
    events = json_lines(result.stdout)
    summary = next(e for e in events if e.get("event") == "summary")["services"]
    assert [(s["cp_id"], s["ok"]) for s in summary] == [("CP1", True), ("CPX", False),
                                                        ("CP2", True)]
    assert [t["cp_id"] for t in tickets_of(events)] == ["CP1", "CP2"]
    assert events[-1] == {"result": "partial", "services": 3, "services_done": 2}


def test_central_restarted_mid_session_the_driver_carries_on(charge_points):
    net = charge_points("CP1")
    run = net.start_driver("D1", "charge", "CP1", "--kwh", "1.0")
    run.wait_event(lambda e: e.get("event") == "progress", timeout=60, what="live data")
    net.kill_central()
    run.wait_event(lambda e: e.get("event") == "connection_lost", timeout=20,
                   what="the driver noticing")
    net.start_central()
    assert run.wait(90) == 0, run.proc.log()
    events = run.events()
    assert any("Central's socket is back" in e.get("text", "") for e in events)
    ticket = tickets_of(events)
    assert len(ticket) == 1 and ticket[0]["reason"] == "stopped"
    assert ticket[0]["energy_kwh"] >= 1.0
