"""Nothing lost, nothing sent twice, on both runtimes: the Engine killed
mid-session and restarted, and the Monitor link lost past the grace period."""
from __future__ import annotations

import json

import pytest

from evharness.engine import RUNTIMES, start_engine
from evharness.procs import wait_until
from evharness.sim import start_sim

TICK = "0.3"


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


def _completions(probe, seconds):
    return [m for m in probe.collect(seconds) if m["type"] == "charge_completion"]


def test_engine_killed_mid_session_and_restarted(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    state = tmp_path / "state"
    engine = start_engine(procs, state, sim.link, runtime, "--tick", TICK)
    probe = engine.probe()
    meter_before = sim.status()["meter_kwh"]
    assert probe.start("S1")["status"] == "success"
    probe.wait_type("charging_data")
    persisted = json.loads((state / "engine_state.json").read_text())
    assert persisted["session"]["session_id"] == "S1"
    assert persisted["session"]["meter_start_kwh"] == pytest.approx(meter_before, abs=0.001)

    engine.proc.kill()  # SIGKILL: no clean-up; the relay stays closed, the meter counts
    probe.close()
    wait_until(lambda: sim.status()["meter_kwh"] > meter_before + 0.05, timeout=10)
    assert sim.status()["relay_closed"] is True

    engine = start_engine(procs, state, sim.link, runtime, "--tick", TICK, port=engine.port)
    wait_until(lambda: sim.status()["relay_closed"] is False, timeout=10, what="relay open")
    probe = engine.probe()
    done = probe.wait_type("charge_completion", timeout=10)
    status = sim.status()
    assert done["session_id"] == "S1" and done["reason"] == "fault"
    assert done["meter_start_kwh"] == pytest.approx(meter_before, abs=0.001)
    assert done["meter_stop_kwh"] == pytest.approx(status["meter_kwh"], abs=0.001)
    assert done["energy_consumed_kwh"] == pytest.approx(status["meter_kwh"] - meter_before,
                                                        abs=0.0011)
    assert _completions(probe, 1.0) == []  # exactly one
    assert probe.health()["is_charging"] is False

    # Restarted again before the ack: the same completion, same message_id.
    engine.proc.terminate()
    probe.close()
    engine = start_engine(procs, state, sim.link, runtime, "--tick", TICK, port=engine.port)
    probe = engine.probe()
    again = probe.wait_type("charge_completion", timeout=10)
    assert again == done
    probe.ack(again)
    wait_until(lambda: not (state / "engine_state.json").exists(), timeout=10,
               what="state file removed after the ack")
    probe.close()
    probe = engine.probe()
    probe.health()
    assert _completions(probe, 1.0) == []


def test_monitor_lost_past_grace_then_delivered_until_acked(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--monitor-grace", "1.5")
    probe = engine.probe()
    assert probe.start("S1")["status"] == "success"
    probe.wait_type("charging_data")
    probe.close()
    wait_until(lambda: sim.status()["relay_closed"] is False, timeout=10, what="relay open")
    meter_after = sim.status()["meter_kwh"]

    probe = engine.probe()
    done = probe.wait_type("charge_completion", timeout=10)
    assert done["reason"] == "monitor_lost" and done["session_id"] == "S1"
    assert done["meter_stop_kwh"] == pytest.approx(meter_after, abs=0.001)
    probe.close()  # no ack: the next Monitor gets it again

    probe = engine.probe()
    again = probe.wait_type("charge_completion", timeout=10)
    assert again["message_id"] == done["message_id"] and again == done
    probe.ack(again)
    probe.health()
    probe.close()
    probe = engine.probe()
    probe.health()
    assert _completions(probe, 1.0) == []


def test_short_monitor_outage_within_grace_keeps_charging(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--monitor-grace", "3")
    probe = engine.probe()
    assert probe.start("S1")["status"] == "success"
    probe.close()
    probe = engine.probe()
    health = probe.health()
    assert health["is_charging"] is True and health["session_id"] == "S1"
    probe.wait_type("charging_data")
    assert sim.status()["relay_closed"] is True


def test_a_monitor_that_hangs_without_closing_counts_as_lost(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--monitor-silence", "1", "--monitor-grace", "1")
    hung = engine.probe(heartbeat=None)  # connected, then never says a word again
    assert hung.start("S1")["status"] == "success"
    wait_until(lambda: sim.status()["relay_closed"] is False, timeout=15, what="relay open")
    assert "silent for 1000 ms: dropping the connection" in engine.log()
    probe = engine.probe()
    done = probe.wait_type("charge_completion", timeout=10)
    assert done["reason"] == "monitor_lost"
    assert done["meter_stop_kwh"] == pytest.approx(sim.status()["meter_kwh"], abs=0.001)
