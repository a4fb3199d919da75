# The Engine's messages through the real Dispatcher: replies, refusals and
# error_response for anything malformed or unknown.
from engine_fakes import FakeHardware, make_config, start_command, stop_command

from evengine.chargepoint import ChargePoint
from evengine.handlers import ACCEPTS, EngineHandlers
from evengine.store import StateStore
from evengine.walkup import WalkUp
from evwire.dispatch import Dispatcher


def _dispatcher(hw=None):
    config = make_config()
    cp = ChargePoint(config, hw or FakeHardware(), StateStore(config["state_dir"]))
    cp.boot()
    cp.monitor_connected()
    cp.tick(0)
    return Dispatcher(EngineHandlers(cp, WalkUp(cp, lambda msg: True)), ACCEPTS), cp


def test_health_check_response_fields():
    dispatcher, cp = _dispatcher()
    reply = dispatcher.handle({"type": "health_check_request", "message_id": "h1", "id": "CP1"})
    assert reply["type"] == "health_check_response" and reply["message_id"] == "h1"
    assert reply["status"] == "success" and reply["engine_status"] == "OK"
    assert reply["is_charging"] is False and reply["cp_id"] == "CP1"
    assert reply["vehicle_connected"] is True and reply["fault_type"] is None
    assert reply["meter_energy_kwh"] == 100.0 and reply["session_id"] is None


def test_start_and_stop_command_responses():
    dispatcher, cp = _dispatcher()
    reply = dispatcher.handle(start_command())
    assert reply["type"] == "command_response" and reply["message_id"] == "m-start-S1"
    assert reply["status"] == "success" and reply["session_id"] == "S1"
    assert reply["command"] == "start_charging_command"
    health = dispatcher.handle({"type": "health_check_request", "message_id": "h2",
                                "id": "CP1"})
    assert health["is_charging"] is True and health["session_id"] == "S1"
    reply = dispatcher.handle(stop_command())
    assert reply["status"] == "success" and reply["session_id"] == "S1"


def test_refusal_is_a_failure_response_with_the_reason():
    dispatcher, cp = _dispatcher()
    cp.faults.force(True)
    reply = dispatcher.handle(start_command())
    assert reply["status"] == "failure" and reply["session_id"] is None
    assert reply["message"] == "engine faulted (simulated_fault)"


def test_command_for_another_cp_is_refused():
    dispatcher, cp = _dispatcher()
    reply = dispatcher.handle(start_command(cp_id="CP9"))
    assert reply["status"] == "failure" and "CP9" in reply["message"]
    assert not cp.is_charging()


def test_invalid_and_unknown_messages_get_error_response():
    dispatcher, cp = _dispatcher()
    bad = start_command()
    del bad["driver_id"]
    reply = dispatcher.handle(bad)
    assert reply["type"] == "error_response" and "driver_id" in reply["error"]
    assert reply["message_id"] == "m-start-S1"
    reply = dispatcher.handle({"type": "make_coffee", "message_id": "x1"})
    assert reply["type"] == "error_response" and "make_coffee" in reply["error"]
    reply = dispatcher.handle({"type": "charge_request", "message_id": "x2", "cp_id": "CP1",
                               "driver_id": "D1", "timestamp": 1700000000})
    assert reply["type"] == "error_response" and "charge_request" in reply["error"]


def test_ack_has_no_reply():
    dispatcher, cp = _dispatcher()
    dispatcher.handle(start_command())
    dispatcher.handle(stop_command())
    (done,) = cp.take_unsent()
    ack = {"type": "charge_completion_ack", "message_id": done["message_id"], "session_id": "S1"}
    assert dispatcher.handle(ack) is None
    assert cp.pending == []
