"""Hardware faults seen through the virtual hardware, on both runtimes: a
silent meter, CRC noise, a welded contactor, and the start refusals."""
from __future__ import annotations

import pytest

from evharness.engine import RUNTIMES, start_engine
from evharness.procs import wait_until
from evharness.sim import start_sim

TICK = "0.3"


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


def _ko(probe, fault_type):
    def check():
        health = probe.health()
        return health["engine_status"] == "KO" and health["fault_type"] == fault_type

    wait_until(check, timeout=10, what=f"engine KO with {fault_type}")


def _ok(probe):
    wait_until(lambda: probe.health()["engine_status"] == "OK", timeout=10, what="engine OK")


def test_silent_meter_is_a_fault_and_the_bill_waits_for_it(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--meter-fail-polls", "3")
    probe = engine.probe()
    meter_before = sim.status()["meter_kwh"]
    assert probe.start("S1")["status"] == "success"
    probe.wait_type("charging_data")
    sim.command("meter-silent on")
    _ko(probe, "meter_unreachable")
    assert sim.status()["relay_closed"] is False
    assert [m for m in probe.collect(1.0) if m["type"] == "charge_completion"] == []
    sim.command("meter-silent off")
    done = probe.wait_type("charge_completion", timeout=10)
    assert done["reason"] == "fault" and "meter_estimated" not in done
    assert done["meter_start_kwh"] == pytest.approx(meter_before, abs=0.001)
    assert done["meter_stop_kwh"] == pytest.approx(sim.status()["meter_kwh"], abs=0.001)
    _ok(probe)


def test_meter_silent_too_long_bills_the_last_reading(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--meter-fail-polls", "2", "--meter-estimate-s", "1")
    probe = engine.probe()
    assert probe.start("S1")["status"] == "success"
    last = probe.wait_type("charging_data")
    sim.command("meter-silent on")
    done = probe.wait_type("charge_completion", timeout=10)
    assert done["reason"] == "fault" and done["meter_estimated"] is True
    assert done["meter_stop_kwh"] >= last["meter_kwh"]
    assert done["meter_stop_kwh"] <= sim.status()["meter_kwh"] + 0.001
    assert sim.status()["relay_closed"] is False


def test_occasional_crc_errors_are_tolerated(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--meter-fail-polls", "3")
    probe = engine.probe()
    assert probe.start("S1")["status"] == "success"
    for _ in range(3):
        sim.command("crc 1")
        probe.collect(0.7)
    wait_until(lambda: sim.status()["crc_errors_pending"] == 0, timeout=5)
    health = probe.health()
    assert health["engine_status"] == "OK" and health["is_charging"] is True
    assert [m for m in probe.collect(0.5) if m["type"] == "charge_completion"] == []
    assert "meter poll failed (1 in a row): ModbusCRCError" in engine.log()


def test_welded_contactor_is_detected(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK)
    probe = engine.probe()
    assert probe.start("S1")["status"] == "success"
    sim.command("weld on")
    stopped = probe.stop("S1")
    assert stopped["status"] == "failure" and "relay_welded" in stopped["message"]
    done = probe.wait_type("charge_completion")
    assert done["reason"] == "fault"
    health = probe.health()
    assert health["engine_status"] == "KO" and health["fault_type"] == "relay_welded"
    assert health["is_charging"] is False
    sim.command("weld off")
    _ok(probe)
    assert sim.status()["relay_closed"] is False


def test_start_is_refused_with_the_reason(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path)
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK)
    probe = engine.probe()
    sim.command("meter-silent on")
    _ko(probe, "meter_unreachable")
    refused = probe.start("S1")
    assert refused["status"] == "failure" and "engine faulted" in refused["message"]
    sim.command("meter-silent off")
    _ok(probe)
    assert probe.start("S1")["status"] == "success"
    refused = probe.start("S2")
    assert refused["status"] == "failure" and refused["message"] == "already charging"
    assert sim.status()["relay_closed"] is True
