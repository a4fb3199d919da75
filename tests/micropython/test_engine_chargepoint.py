# The charge point's logic against a fake of its hardware: starts, every way
# a session ends, faults, the completion hand-off and reboot safety.
from engine_fakes import FakeHardware, make_config, start_command, stop_command

from evengine.chargepoint import ChargePoint
from evengine.store import StateStore


def _cp(hw=None, **config):
    config = make_config(**config)
    hw = hw or FakeHardware()
    cp = ChargePoint(config, hw, StateStore(config["state_dir"]))
    cp.boot()
    cp.monitor_connected()
    cp.tick(0)
    return cp, hw


def _charging(**config):
    cp, hw = _cp(**config)
    ok, text = cp.start(start_command())
    assert ok, text
    return cp, hw


def _completions(cp):
    return cp.take_unsent()


def test_boot_opens_the_relay():
    hw = FakeHardware()
    hw.closed = True  # left closed by whatever ran before
    _cp(hw)
    assert hw.closed is False


def test_start_closes_relay_records_reading_and_persists_once():
    cp, hw = _cp()
    writes = cp.store.writes
    ok, text = cp.start(start_command())
    assert ok and text == "charging started"
    assert hw.closed and cp.is_charging()
    assert cp.store.writes == writes + 1
    record = StateStore(cp.config["state_dir"]).load()["session"]
    assert record["session_id"] == "S1" and record["meter_start_kwh"] == 100.0
    assert record["driver_id"] == "D1" and record["price_per_kwh"] == 0.5
    assert isinstance(record["started_at"], int)


def test_no_write_per_tick():
    cp, hw = _charging()
    writes = cp.store.writes
    for second in range(1, 20):
        hw.flow(0.1)
        cp.tick(second * 1000)
    assert cp.store.writes == writes


def test_start_refusals_say_why():
    cp, hw = _cp()
    hw.relay_silent = True  # the plugged-in input is on the relay module
    assert cp.start(start_command()) == (False, "vehicle input not answering")
    assert not hw.closed and cp.session is None
    hw.relay_silent = False
    cp.tick(1000)
    command = start_command()
    command["connection_timeout_s"] = 0
    ok, text = cp.start(command)
    assert not ok and "connection_timeout_s must be positive" in text
    cp.faults.force(True)
    ok, text = cp.start(start_command())
    assert not ok and text.startswith("engine faulted")
    cp.faults.force(False)
    assert cp.start(start_command())[0]
    assert cp.start(start_command("S2")) == (False, "already charging")
    assert cp.start(start_command("S1")) == (True, "already charging this session")


def test_charging_data_energy_is_reading_minus_start():
    cp, hw = _charging()
    hw.flow(1.2345)
    (data,) = cp.tick(1000)
    assert data["energy_consumed_kwh"] == 1.234 or data["energy_consumed_kwh"] == 1.235
    assert data["total_cost"] == round(data["energy_consumed_kwh"] * 0.5, 2)
    assert data["charging_rate"] == 7.0
    cp.monitor_disconnected(1500)
    hw.flow(1.0)
    assert cp.tick(2000) == ()  # no Monitor: samples are thinned, not queued


def test_stop_opens_relay_and_yields_exactly_one_completion():
    cp, hw = _charging()
    hw.flow(2.5)
    assert cp.stop(stop_command()) == (True, "charging stopped")
    assert not hw.closed
    (done,) = _completions(cp)
    assert done["reason"] == "stopped"
    assert done["meter_start_kwh"] == 100.0 and done["meter_stop_kwh"] == 102.5
    assert done["energy_consumed_kwh"] == 2.5 and done["total_cost"] == 1.25
    assert _completions(cp) == []
    assert cp.stop(stop_command()) == (True, "session already ended")
    ok, text = cp.stop(stop_command("S9"))
    assert not ok and "not charging" in text


def test_unplug_ends_the_session():
    cp, hw = _charging()
    hw.flow(0.5)
    hw.plugged = False
    cp.tick(1000)
    (done,) = _completions(cp)
    assert done["reason"] == "unplugged" and done["energy_consumed_kwh"] == 0.5
    assert not hw.closed


def test_car_full_ends_the_session_after_the_hold():
    cp, hw = _charging(ev_full_s=2)
    hw.power_kw = 0.0
    cp.tick(1000)
    cp.tick(2000)
    assert cp.is_charging()
    cp.tick(3000)
    (done,) = _completions(cp)
    assert done["reason"] == "ev_full"


def test_monitor_lost_past_grace_opens_relay_and_completion_waits():
    cp, hw = _charging(monitor_grace_s=2)
    cp.monitor_disconnected(1000)
    cp.tick(2000)
    assert cp.is_charging() and hw.closed
    cp.tick(3000)
    assert not hw.closed and cp.session is None
    assert _completions(cp) == []  # nobody to send it to
    cp.monitor_connected()
    (done,) = _completions(cp)
    assert done["reason"] == "monitor_lost"


def test_completion_resent_on_each_connection_until_acked():
    cp, hw = _charging()
    cp.stop(stop_command())
    (first,) = _completions(cp)
    cp.monitor_disconnected(1000)
    cp.monitor_connected()
    (again,) = _completions(cp)
    assert again["message_id"] == first["message_id"]
    ack = {"type": "charge_completion_ack", "message_id": first["message_id"],
           "session_id": "S1"}
    assert cp.acknowledge(ack)
    assert not cp.acknowledge(ack)  # a repeated ack changes nothing
    cp.monitor_connected()
    assert _completions(cp) == []
    assert StateStore(cp.config["state_dir"]).load() == {"session": None, "pending": [],
                                                         "limit": None}


def test_meter_silent_is_a_fault_and_the_bill_waits_for_the_meter():
    cp, hw = _charging(meter_fail_polls=3)
    hw.flow(1.0)
    cp.tick(1000)
    hw.meter_silent = True
    cp.tick(2000)
    cp.tick(3000)
    assert cp.is_charging() and cp.health()["engine_status"] == "OK"
    cp.tick(4000)
    health = cp.health()
    assert health["engine_status"] == "KO" and health["fault_type"] == "meter_unreachable"
    assert not hw.closed
    assert _completions(cp) == [] and cp.session is not None
    hw.flow(0.25)  # nothing flows: the relay is open
    hw.meter_silent = False
    cp.tick(5000)
    (done,) = _completions(cp)
    assert done["reason"] == "fault" and done["meter_stop_kwh"] == 101.0
    assert "meter_estimated" not in done
    assert cp.health()["engine_status"] == "OK"


def test_meter_silent_too_long_bills_the_last_good_reading():
    cp, hw = _charging(meter_fail_polls=2, meter_estimate_s=5)
    hw.flow(1.5)
    cp.tick(1000)
    hw.meter_silent = True
    cp.tick(2000)
    cp.tick(3000)  # KO: the session is ending, the bill waits
    cp.tick(7000)
    assert _completions(cp) == []
    cp.tick(9000)
    (done,) = _completions(cp)
    assert done["meter_estimated"] is True and done["meter_stop_kwh"] == 101.5


def test_occasional_meter_errors_below_the_threshold_are_tolerated():
    cp, hw = _charging(meter_fail_polls=3)
    for second in range(1, 10):
        hw.meter_silent = second % 3 == 0  # one bad poll in three
        cp.tick(second * 1000)
    assert cp.is_charging() and cp.health()["engine_status"] == "OK"


def test_welded_relay_on_stop_is_a_fault_and_still_one_completion():
    cp, hw = _charging()
    hw.welded = True
    ok, text = cp.stop(stop_command())
    assert not ok and "relay_welded" in text
    assert cp.health()["fault_type"] == "relay_welded"
    (done,) = _completions(cp)
    assert done["reason"] == "fault"
    cp.tick(1000)
    assert cp.health()["engine_status"] == "KO"
    hw.welded = False
    cp.tick(2000)  # the retried open now works
    cp.tick(3000)
    assert cp.health()["engine_status"] == "OK" and not hw.closed


def test_dead_contactor_fails_the_start_without_a_session():
    cp, hw = _cp()
    hw.dead = True
    ok, text = cp.start(start_command())
    assert not ok and "relay did not close" in text
    assert cp.session is None and StateStore(cp.config["state_dir"]).load()["session"] is None


def test_relay_module_silent_is_a_fault_and_the_bill_waits_for_it():
    cp, hw = _charging(meter_fail_polls=2, meter_estimate_s=5)
    hw.relay_silent = True
    cp.tick(1000)
    assert cp.is_charging()
    hw.flow(0.5)
    cp.tick(2000)
    assert cp.health()["fault_type"] == "relay_failed"
    assert _completions(cp) == []  # open not confirmed: energy may still flow
    hw.flow(0.5)
    cp.tick(4000)
    assert _completions(cp) == []
    cp.tick(7000)
    (done,) = _completions(cp)
    assert done["reason"] == "fault" and done["meter_estimated"] is True
    assert done["meter_stop_kwh"] == 101.0  # the latest reading, flagged


def test_forced_fault_ends_the_session_and_recovers_only_when_cleared():
    cp, hw = _charging()
    cp.faults.force(True)
    cp.tick(1000)
    assert cp.health()["fault_type"] == "simulated_fault" and not hw.closed
    (done,) = _completions(cp)
    assert done["reason"] == "fault"
    cp.tick(2000)
    assert cp.health()["engine_status"] == "KO"
    cp.faults.force(False)
    cp.tick(3000)
    assert cp.health()["engine_status"] == "OK"


def test_reboot_ends_the_unfinished_session_as_fault_with_the_meter_now():
    cp, hw = _charging()
    hw.flow(3.0)  # the meter keeps counting while the Engine is down
    state_dir = cp.config["state_dir"]
    reborn = ChargePoint(make_config(state_dir=state_dir), hw, StateStore(state_dir))
    reborn.boot()
    assert not hw.closed
    reborn.tick(0)
    reborn.monitor_connected()
    (done,) = reborn.take_unsent()
    assert done["reason"] == "fault" and done["session_id"] == "S1"
    assert done["meter_start_kwh"] == 100.0 and done["meter_stop_kwh"] == 103.0
    # Power lost again before the ack: the same completion (same id) comes back.
    third = ChargePoint(make_config(state_dir=state_dir), hw, StateStore(state_dir))
    third.boot()
    third.tick(0)
    third.monitor_connected()
    (again,) = third.take_unsent()
    assert again == done


def test_lost_relay_command_is_repeated_not_called_welded():
    cp, hw = _charging(meter_fail_polls=2)
    hw.flow(0.5)
    hw.relay_silent = True
    cp.tick(1000)
    cp.tick(2000)
    assert cp.health()["fault_type"] == "relay_failed"
    assert hw.closed  # the open command never reached the module
    hw.relay_silent = False
    hw.flow(0.25)  # still flowing until the relay really opens
    cp.tick(3000)
    assert not hw.closed
    health = cp.health()
    assert health["engine_status"] == "OK" and health["fault_type"] is None
    (done,) = _completions(cp)
    assert done["reason"] == "fault" and done["meter_stop_kwh"] == 100.75


def test_undelivered_completions_are_bounded():
    cp, hw = _cp()
    cp.monitor_disconnected(0)
    for n in range(8):
        assert cp.start(start_command("S%d" % n))[0]
        assert cp.stop(stop_command("S%d" % n))[0]
    assert len(cp.pending) == 8
    assert cp.start(start_command("S9")) == (False, "too many completions not yet delivered")
    cp.monitor_connected()
    sent = cp.take_unsent()
    assert [c["session_id"] for c in sent] == ["S%d" % n for n in range(8)]
    cp.acknowledge({"message_id": sent[0]["message_id"], "session_id": "S0"})
    assert cp.start(start_command("S9"))[0]


class _BrokenStore:
    """A store whose filesystem refuses writes (full, or read-only)."""

    path = "/broken/engine_state.json"
    writes = 0

    def load(self):
        return {"session": None, "pending": []}

    def save(self, session, pending, limit=None):
        raise OSError(28, "No space left on device")


def test_start_is_refused_when_the_session_cannot_be_recorded():
    hw = FakeHardware()
    cp = ChargePoint(make_config(), hw, _BrokenStore())
    cp.boot()
    cp.tick(0)
    ok, text = cp.start(start_command())
    assert not ok and "storage" in text
    assert not hw.closed and cp.session is None
