# Billing from meter deltas; the car-finished detector.
from engine_fakes import Reading, start_command

import evwire
from evengine.session import Session, cost_of, energy_between, new_record


def test_energy_is_the_meter_delta_at_watt_hour_resolution():
    assert energy_between(100.0, 112.34567) == 12.346
    assert energy_between(100.0, 99.0) == 0.0  # a reset meter never bills negative


def test_cost_rounds_to_cents():
    assert cost_of(12.346, 0.3) == 3.7
    assert cost_of(1.005, 1.0) in (1.0, 1.01)  # float rounding, either is a cent


def test_charging_data_fields():
    session = Session(new_record(start_command(price=0.4), 250.0))
    msg = session.charging_data("CP1", Reading(252.5, 7.123))
    assert msg["type"] == "charging_data"
    assert msg["energy_consumed_kwh"] == 2.5
    assert msg["total_cost"] == 1.0
    assert msg["charging_rate"] == 7.12
    assert msg["driver_id"] == "D1" and msg["session_id"] == "S1" and msg["cp_id"] == "CP1"
    assert msg["meter_kwh"] == 252.5
    assert isinstance(msg["timestamp"], int)


def test_charging_data_clamps_a_meter_reading_just_below_zero():
    # The wire refuses negative power and current; a meter at 0 A reads noise.
    session = Session(new_record(start_command(price=0.4), 250.0))
    msg = session.charging_data("CP1", Reading(250.0, -0.004, voltage=231.0, current=-0.02))
    assert msg["charging_rate"] == 0.0 and msg["current"] == 0.0
    assert msg["voltage"] == 231.0
    evwire.validate(msg)


def test_completion_fields_and_estimate_flag():
    session = Session(new_record(start_command(price=0.4), 10.0))
    done = session.completion("CP1", "stopped", 13.25)
    assert done["meter_start_kwh"] == 10.0 and done["meter_stop_kwh"] == 13.25
    assert done["energy_consumed_kwh"] == 3.25 and done["total_cost"] == 1.3
    assert done["reason"] == "stopped" and "meter_estimated" not in done
    assert session.completion("CP1", "fault", 11.0, estimated=True)["meter_estimated"] is True


def test_car_finished_needs_low_power_for_the_whole_hold():
    session = Session(new_record(start_command(), 0.0))
    assert not session.car_finished(0.01, 1000, 0.05, 2)
    assert not session.car_finished(0.01, 2500, 0.05, 2)
    assert not session.car_finished(3.0, 2900, 0.05, 2)  # power came back: start over
    assert not session.car_finished(0.0, 3000, 0.05, 2)
    assert session.car_finished(0.0, 5000, 0.05, 2)
