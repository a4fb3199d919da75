"""Contactor faults, the vehicle input and the card reader through the
Engine's drivers against the virtual relay module and card reader."""
from __future__ import annotations

import pytest

from evengine.modbus import ModbusMaster
from evengine.relay import ModbusCardReader, ModbusRelay, ModbusVehicleInput, RelayMismatch
from evengine.serialport import open_serial
from evharness.sim import start_sim


@pytest.fixture
def sim(procs, tmp_path):
    return start_sim(procs, tmp_path)


@pytest.fixture
def master(sim):
    port = open_serial(str(sim.link))
    yield ModbusMaster(port, timeout_ms=1000)
    port.close()


def test_welded_contactor_is_detected(sim, master):
    relay = ModbusRelay(master)
    relay.set(True)
    sim.command("weld on")
    with pytest.raises(RelayMismatch) as mismatch:
        relay.set(False)
    assert (mismatch.value.commanded, mismatch.value.actual) == (False, True)
    assert mismatch.value.kind == "welded"
    status = sim.status()
    assert status["relay_closed"] is True and status["coil_on"] is False
    assert status["power_kw"] > 0  # welded contacts keep the car live: why it is a fault
    sim.command("recover")
    relay.set(False)
    assert not relay.is_closed()


def test_dead_contactor_is_detected(sim, master):
    relay = ModbusRelay(master)
    sim.command("dead on")
    with pytest.raises(RelayMismatch) as mismatch:
        relay.set(True)
    assert mismatch.value.kind == "dead"
    relay.set(False)  # opening a contactor that cannot close is consistent
    assert sim.status()["power_kw"] == 0.0
    sim.command("dead off")
    relay.set(True)
    assert relay.is_closed()


def test_weld_while_open_shows_at_the_next_check(sim, master):
    relay = ModbusRelay(master)
    sim.command("weld on")
    assert relay.is_closed()  # what a boot-time "relay open?" check sees
    with pytest.raises(RelayMismatch):
        relay.set(False)


def test_vehicle_input_follows_plug(sim, master):
    vehicle = ModbusVehicleInput(master)
    assert vehicle.is_connected() is True
    sim.command("unplug")
    assert vehicle.is_connected() is False
    sim.command("plug")
    assert vehicle.is_connected() is True


def test_card_swipe_is_reported_once(sim, master):
    reader = ModbusCardReader(master)
    assert reader.poll() is None
    assert sim.command("swipe 04A1B2C3D4E5F6")["swipes"] == 1
    assert reader.poll() == "04A1B2C3D4E5F6"
    assert reader.poll() is None
    sim.command("swipe 04A1B2C3D4E5F6")  # the same card again is a new swipe
    assert sim.command("swipe DRIVER-0000000001")["ok"] is False  # 17 chars: refused
    assert reader.poll() == "04A1B2C3D4E5F6"
    sim.command("swipe D1")
    assert reader.poll() == "D1"
    assert reader.poll() is None


def test_swipe_before_the_first_poll_is_not_replayed(sim, master):
    sim.command("swipe OLDCARD")
    reader = ModbusCardReader(master)
    assert reader.poll() is None
    sim.command("swipe NEWCARD")
    assert reader.poll() == "NEWCARD"
