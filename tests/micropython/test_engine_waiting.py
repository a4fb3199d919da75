# Authorise, then plug in: a start with no car waits for one within the
# connection timeout; energy counts from the plug-in; no car in time ends the
# session no_vehicle with zero energy, exactly once, also across a reboot.
from engine_fakes import FakeHardware, make_config, start_command, stop_command

from evengine.chargepoint import ChargePoint
from evengine.handlers import ACCEPTS, EngineHandlers
from evengine.store import StateStore
from evengine.walkup import WalkUp
from evwire.dispatch import Dispatcher


def _waiting(timeout_s=None, **config):
    config = make_config(**config)
    hw = FakeHardware(plugged=False)
    cp = ChargePoint(config, hw, StateStore(config["state_dir"]))
    cp.boot()
    cp.monitor_connected()
    cp.tick(0)
    command = start_command()
    if timeout_s is not None:
        command["connection_timeout_s"] = timeout_s
    ok, text = cp.start(command)
    assert ok, text
    return cp, hw


def test_start_without_a_car_is_accepted_and_waits_with_the_relay_open():
    cp, hw = _waiting()
    assert cp.is_waiting() and not cp.is_charging()
    assert not hw.closed and hw.closes == 0
    health = cp.health()
    assert health["waiting_for_vehicle"] is True and health["is_charging"] is False
    assert health["session_id"] == "S1"
    record = StateStore(cp.config["state_dir"]).load()["session"]
    assert record["session_id"] == "S1" and record["meter_start_kwh"] is None
    for second in range(1, 30):
        assert cp.tick(second * 1000) == ()  # no charging_data while nothing flows
    assert cp.is_waiting()


def test_the_config_timeout_applies_unless_the_command_gives_one():
    config = make_config(connection_timeout_s=45)
    cp = ChargePoint(config, FakeHardware(plugged=False), StateStore(config["state_dir"]))
    cp.boot()
    assert cp.start(start_command()) == (True, "waiting for vehicle (plug in within 45 s)")
    cp2, hw = _waiting(timeout_s=3)
    assert cp2.session.connection_timeout_s == 3


def test_plug_in_closes_the_relay_and_energy_counts_from_the_plug_in():
    cp, hw = _waiting(timeout_s=10)
    cp.tick(1000)
    hw.energy_kwh = 104.0  # the meter moved (another load on it) before the car came
    hw.plugged = True
    writes = cp.store.writes
    cp.tick(2000)
    assert hw.closed and cp.is_charging() and not cp.is_waiting()
    assert cp.store.writes == writes + 1  # the start reading, before energy flows
    record = StateStore(cp.config["state_dir"]).load()["session"]
    assert record["meter_start_kwh"] == 104.0
    hw.flow(0.75)
    (data,) = cp.tick(3000)
    assert data["energy_consumed_kwh"] == 0.75
    cp.tick(30000)  # long past the timeout: charging goes on
    assert cp.is_charging()
    assert cp.stop(stop_command()) == (True, "charging stopped")
    (done,) = cp.take_unsent()
    assert done["reason"] == "stopped" and done["energy_consumed_kwh"] == 0.75
    assert done["meter_start_kwh"] == 104.0 and done["meter_stop_kwh"] == 104.75


def test_no_car_within_the_timeout_ends_no_vehicle_with_zero_energy_once():
    cp, hw = _waiting(timeout_s=3)
    cp.tick(1000)
    cp.tick(3500)
    assert cp.is_waiting()
    cp.tick(4000)
    assert cp.session is None and hw.closes == 0
    (done,) = cp.take_unsent()
    assert done["reason"] == "no_vehicle" and done["session_id"] == "S1"
    assert done["energy_consumed_kwh"] == 0.0 and done["total_cost"] == 0.0
    assert done["meter_start_kwh"] is None and done["meter_stop_kwh"] is None
    hw.plugged = True  # too late: nothing starts
    cp.tick(5000)
    assert not hw.closed and cp.take_unsent() == []
    assert StateStore(cp.config["state_dir"]).load()["pending"] == [done]


def test_stop_while_waiting_ends_the_session_with_zero_energy():
    cp, hw = _waiting()
    assert cp.stop(stop_command()) == (True, "charging stopped")
    (done,) = cp.take_unsent()
    assert done["reason"] == "stopped" and done["energy_consumed_kwh"] == 0.0
    assert cp.stop(stop_command()) == (True, "session already ended")


def test_the_same_start_again_while_waiting_is_a_retransmission():
    cp, hw = _waiting()
    assert cp.start(start_command()) == (True, "already waiting for the vehicle for this session")
    assert cp.start(start_command("S2")) == (False, "already charging")


def test_a_fault_while_waiting_ends_the_session():
    cp, hw = _waiting()
    cp.faults.force(True)
    cp.tick(1000)
    (done,) = cp.take_unsent()
    assert done["reason"] == "fault" and done["energy_consumed_kwh"] == 0.0


def test_monitor_lost_while_waiting_ends_the_session_after_the_grace():
    cp, hw = _waiting(monitor_grace_s=2)
    cp.monitor_disconnected(1000)
    hw.plugged = False
    cp.tick(2000)
    assert cp.is_waiting()
    cp.tick(3000)
    assert cp.session is None
    cp.monitor_connected()
    (done,) = cp.take_unsent()
    assert done["reason"] == "monitor_lost" and done["energy_consumed_kwh"] == 0.0


def test_a_relay_that_does_not_close_at_plug_in_ends_the_session_as_fault():
    cp, hw = _waiting()
    hw.dead = True
    hw.plugged = True
    cp.tick(1000)
    assert cp.session is None
    (done,) = cp.take_unsent()
    assert done["reason"] == "fault" and done["energy_consumed_kwh"] == 0.0


def test_reboot_while_waiting_gives_one_zero_energy_completion():
    cp, hw = _waiting()
    state_dir = cp.config["state_dir"]
    reborn = ChargePoint(make_config(state_dir=state_dir), hw, StateStore(state_dir))
    reborn.boot()
    reborn.tick(0)
    hw.plugged = True  # the car that comes after the reboot is not charged on it
    reborn.tick(1000)
    assert not hw.closed and reborn.session is None
    reborn.monitor_connected()
    (done,) = reborn.take_unsent()
    assert done["reason"] == "fault" and done["energy_consumed_kwh"] == 0.0
    assert done["meter_start_kwh"] is None
    third = ChargePoint(make_config(state_dir=state_dir), hw, StateStore(state_dir))
    third.boot()
    third.tick(0)
    third.monitor_connected()
    assert third.take_unsent() == [done]  # not acked yet: the same one, not a second


def test_command_response_says_whether_it_waits_for_the_vehicle():
    config = make_config()
    hw = FakeHardware(plugged=False)
    cp = ChargePoint(config, hw, StateStore(config["state_dir"]))
    cp.boot()
    cp.monitor_connected()
    dispatcher = Dispatcher(EngineHandlers(cp, WalkUp(cp, lambda msg: True)), ACCEPTS)
    reply = dispatcher.handle(start_command())
    assert reply["status"] == "success" and reply["waiting_for_vehicle"] is True
    assert reply["session_id"] == "S1" and "waiting for vehicle" in reply["message"]
    health = dispatcher.handle({"type": "health_check_request", "message_id": "h", "id": "CP1"})
    assert health["waiting_for_vehicle"] is True and health["session_id"] == "S1"
    dispatcher.handle(stop_command())
    cp.take_unsent()
    hw.plugged = True
    cp.tick(1000)
    reply = dispatcher.handle(start_command("S2"))
    assert reply["status"] == "success" and reply["waiting_for_vehicle"] is False
