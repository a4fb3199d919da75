"""Walk-up charging at the Engine, on both runtimes, against the virtual hardware
(its card reader is Modbus unit 3) with a test playing the Monitor over real TCP:
authorise then plug in, the connection timeout, a reboot while waiting, card
swipes and the key menu becoming local_charge_request, and refusals shown at the CP.
"""
from __future__ import annotations

import os
import tty

import pytest

import evwire
from evengine.probe import MonitorProbe
from evharness.engine import RUNTIMES, start_engine, wait_ready
from evharness.procs import bin_path, free_port, wait_until
from evharness.sim import start_sim
from evwire import types as t

TICK = "0.3"
READER = ("--card-reader-unit", "3")


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


def _completions(probe, seconds):
    return [m for m in probe.collect(seconds) if m["type"] == "charge_completion"]


def _answer(request: dict, status: str, message: str, **fields) -> dict:
    return evwire.make(t.LOCAL_CHARGE_RESPONSE, request["message_id"], status=status,
                       message=message, cp_id="CP1", **fields)


def test_authorised_then_plugged_in_counts_energy_from_the_plug_in(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--unplugged", "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK)
    probe = engine.probe()
    started = probe.start("S1", price_per_kwh=0.40)
    assert started["status"] == "success" and started["waiting_for_vehicle"] is True
    health = probe.health()
    assert health["waiting_for_vehicle"] is True and health["is_charging"] is False
    assert health["session_id"] == "S1"
    quiet = probe.collect(2.0)  # authorised, no car: nothing flows, nothing is reported
    assert [m for m in quiet if m["type"] in ("charging_data", "charge_completion")] == []
    assert sim.status()["coil_on"] is False
    meter_at_plug_in = sim.status()["meter_kwh"]
    sim.command("plug")
    first = probe.wait_type("charging_data", timeout=10)
    assert first["session_id"] == "S1" and sim.status()["relay_closed"] is True
    assert probe.health()["is_charging"] is True
    probe.collect(1.5)
    assert probe.stop("S1")["status"] == "success"
    done = probe.wait_type("charge_completion")
    status = sim.status()
    assert done["reason"] == "stopped"
    assert done["meter_start_kwh"] == pytest.approx(meter_at_plug_in, abs=0.001)
    assert done["energy_consumed_kwh"] == pytest.approx(status["meter_kwh"] - meter_at_plug_in,
                                                        abs=0.0011)
    assert done["energy_consumed_kwh"] > 0
    assert done["total_cost"] == round(done["energy_consumed_kwh"] * 0.40, 2)


def test_no_vehicle_within_the_connection_timeout(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--unplugged")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--connection-timeout", "2")
    probe = engine.probe()
    assert probe.start("S1")["waiting_for_vehicle"] is True
    done = probe.wait_type("charge_completion", timeout=15)
    assert done["reason"] == "no_vehicle" and done["session_id"] == "S1"
    assert done["energy_consumed_kwh"] == 0 and done["total_cost"] == 0
    assert done["meter_start_kwh"] is None
    assert sim.status()["coil_on"] is False
    probe.ack(done)
    sim.command("plug")  # too late: the session is over, nothing starts
    assert _completions(probe, 1.5) == []
    assert probe.health()["is_charging"] is False and sim.status()["coil_on"] is False
    assert "no vehicle within 2 s" in engine.log()


def test_reboot_while_waiting_gives_exactly_one_zero_energy_completion(procs, tmp_path,
                                                                        runtime):
    sim = start_sim(procs, tmp_path, "--unplugged")
    state = tmp_path / "state"
    engine = start_engine(procs, state, sim.link, runtime, "--tick", TICK)
    probe = engine.probe()
    assert probe.start("S1")["waiting_for_vehicle"] is True
    probe.close()
    engine.proc.kill()
    engine.proc.popen.wait(10)
    sim.command("plug")  # the car comes while the Engine is down: it is not charged
    engine = start_engine(procs, state, sim.link, runtime, "--tick", TICK, name="engine2")
    probe = engine.probe()
    (done,) = _completions(probe, 2.0)
    assert done["session_id"] == "S1" and done["reason"] == "fault"
    assert done["energy_consumed_kwh"] == 0
    assert sim.status()["coil_on"] is False
    probe.ack(done)
    probe.close()
    again = engine.probe()
    assert _completions(again, 1.5) == []


def test_a_swipe_asks_the_monitor_and_the_answer_is_shown(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path)
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK, *READER)
    probe = engine.probe()
    probe.health()
    sim.command("swipe 04A1B2C3")
    request = probe.wait_type(t.LOCAL_CHARGE_REQUEST, timeout=10)
    assert request["card_uid"] == "04A1B2C3" and request["cp_id"] == "CP1"
    assert "driver_id" not in request
    probe.send(_answer(request, t.FAILURE, "unknown card 04A1B2C3", reason="unknown_driver"))
    wait_until(lambda: "card 04A1B2C3: refused: unknown card 04A1B2C3" in engine.log(),
               timeout=10, what="refusal shown")
    sim.command("swipe CARD42")
    request = probe.wait_type(t.LOCAL_CHARGE_REQUEST, timeout=10)
    probe.send(_answer(request, t.SUCCESS, "charging authorised for D42", driver_id="D42",
                       session_id="S42"))
    wait_until(lambda: "authorised for D42, session S42" in engine.log(), timeout=10,
               what="authorisation shown")
    started = probe.start("S42", driver_id="D42")  # Central's start command follows
    assert started["status"] == "success" and started["waiting_for_vehicle"] is False
    sim.command("swipe CARD43")  # busy: refused at once, nothing asked
    wait_until(lambda: "card CARD43: refused: charge point busy (session S42)" in engine.log(),
               timeout=10, what="busy refusal")
    assert [m for m in probe.collect(0.5) if m["type"] == t.LOCAL_CHARGE_REQUEST] == []


def test_a_swipe_with_no_monitor_is_refused_at_once(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path)
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK, *READER)
    sim.command("swipe 04A1B2C3")
    wait_until(lambda: "card 04A1B2C3: refused: monitor unreachable" in engine.log(),
               timeout=10, what="refusal without a Monitor")
    assert "Traceback" not in engine.log()


def test_the_key_menu_asks_for_a_driver_and_presents_a_card(procs, tmp_path, runtime):
    master, slave = os.openpty()
    tty.setraw(master)
    port = free_port()
    try:
        proc = procs.start("engine", [
            bin_path("evcharge"), "engine", "--cp-id", "CP1", "--listen", f"127.0.0.1:{port}",
            "--sim", "--state-dir", str(tmp_path / "state"), "--runtime", runtime,
            "--tick", "0.3"], stdin=slave)
        wait_ready(proc)
        assert "c ID charge driver ID" in proc.log()
        os.write(master, b"c D42\n")  # no Monitor yet
        wait_until(lambda: "driver D42: refused: monitor unreachable" in proc.log(),
                   timeout=10, what="menu refusal")
        probe = MonitorProbe("127.0.0.1", port)
        probe.health()
        os.write(master, b"c D42\n")
        request = probe.wait_type(t.LOCAL_CHARGE_REQUEST, timeout=10)
        assert request["driver_id"] == "D42" and "card_uid" not in request
        probe.send(_answer(request, t.FAILURE, "CP1 is out of service (stopped by the operator)",
                           reason="stopped"))
        wait_until(lambda: "driver D42: refused: CP1 is out of service" in proc.log(),
                   timeout=10, what="Central's refusal shown")
        os.write(master, b"r\n")  # the id on its own line, after a prompt
        wait_until(lambda: "card UID, then Enter:" in proc.log(), timeout=10, what="prompt")
        os.write(master, b"04A1B2C3\n")  # goes to the simulated reader, read back as a swipe
        request = probe.wait_type(t.LOCAL_CHARGE_REQUEST, timeout=10)
        assert request["card_uid"] == "04A1B2C3"
        assert "Traceback" not in proc.log()
    finally:
        os.close(master)
        os.close(slave)
