"""Serial faults a simulator cannot make (the USB-RS485 adapter pulled out):
injected with pytest-mock into the real driver stack (pyserial on a pty to
the virtual hardware), driving the charge point's ticks in this process."""
from __future__ import annotations

import pytest

from evengine.chargepoint import ChargePoint
from evengine.config import check
from evengine.hardware import build
from evengine.store import StateStore
from evharness.sim import start_sim


@pytest.fixture
def charge_point(procs, tmp_path):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    config = check({"cp_id": "CP1", "meter": str(sim.link), "listen": "127.0.0.1:1",
                    "state_dir": str(tmp_path / "state"), "meter_fail_polls": 2,
                    "menu": "off"})
    hardware = build(config)
    cp = ChargePoint(config, hardware, StateStore(config["state_dir"]))
    cp.boot()
    cp.monitor_connected()
    cp.tick(0)
    yield cp, hardware, sim
    hardware.close()


def _start(cp):
    ok, text = cp.start({"type": "start_charging_command", "message_id": "m1", "cp_id": "CP1",
                         "session_id": "S1", "driver_id": "D1", "price_per_kwh": 0.3,
                         "max_charging_rate_kw": 11.0})
    assert ok, text


def test_adapter_unplugged_is_a_fault_and_billing_stays_exact(charge_point, mocker):
    cp, hardware, sim = charge_point
    _start(cp)
    assert sim.status()["relay_closed"] is True
    gone = OSError(5, "Input/output error")
    write = mocker.patch.object(hardware.port, "write", side_effect=gone)
    cp.tick(1000)
    cp.tick(2000)
    assert write.called
    health = cp.health()
    assert health["engine_status"] == "KO" and health["fault_type"] in (
        "meter_unreachable", "relay_failed")
    assert "serial port error" in cp.faults.last_problem
    assert cp.session is not None and cp.take_unsent() == []  # bill waits for the meter
    mocker.stopall()  # the adapter is back
    cp.tick(3000)
    status = sim.status()
    assert status["relay_closed"] is False  # opened as soon as the bus answered
    (done,) = cp.take_unsent()
    assert done["reason"] == "fault"
    # The relay was still closed while the adapter was gone: the meter counted
    # on, and the bill includes every Wh of it (nothing estimated).
    assert "meter_estimated" not in done
    assert done["meter_stop_kwh"] == pytest.approx(status["meter_kwh"], abs=0.001)
    assert cp.health()["engine_status"] == "OK"  # no welded/dead verdict on a silent bus


def test_garbage_from_the_line_is_tolerated_below_the_threshold(charge_point, mocker):
    cp, hardware, sim = charge_point
    _start(cp)
    real_read = hardware.port.read
    calls = {"n": 0}

    def noisy_read(n, timeout_ms=None):
        calls["n"] += 1
        data = real_read(n, timeout_ms)
        if calls["n"] == 1 and data:
            return bytes([data[0] ^ 0x55]) + data[1:]  # one corrupted byte
        return data

    mocker.patch.object(hardware.port, "read", side_effect=noisy_read)
    cp.tick(1000)
    cp.tick(2000)
    assert cp.is_charging() and cp.health()["engine_status"] == "OK"
