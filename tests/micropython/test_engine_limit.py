# The site's limit at the Engine (evengine.limit): kW -> amperes -> pilot duty,
# the hold and the fall back to the safe limit, persistence across a reboot,
# and a paused car (limit below 6 A) that keeps its session open.
from engine_fakes import FakeHardware, make_config, raises, start_command

from evengine.chargepoint import ChargePoint
from evengine.config import ConfigError
from evengine.handlers import EngineHandlers
from evengine.limit import DUTY_OFF, ChargingLimit, amps_for, duty_for
from evengine.store import StateStore


def _limit_msg(kw, hold_s=30, cp_id="CP1"):
    return {"type": "set_charging_limit", "message_id": "m-limit-%s" % kw, "cp_id": cp_id,
            "limit_kw": kw, "hold_s": hold_s}


def _charging(**config):
    config = make_config(**config)
    hw = FakeHardware()
    cp = ChargePoint(config, hw, StateStore(config["state_dir"]))
    cp.boot()
    cp.monitor_connected()
    cp.tick(0)
    ok, text = cp.start(start_command())
    assert ok, text
    return cp, hw


def test_duty_cycle_per_iec_61851():
    assert duty_for(6) == 100  # 10 %
    assert duty_for(16) == 266  # 26.6 %: rounded down, never more than asked
    assert duty_for(32) == 533
    assert duty_for(51) == 850  # 85 %
    assert duty_for(5.9) == DUTY_OFF and duty_for(0) == DUTY_OFF


def test_kw_to_amps_clamped_to_the_evse():
    config = make_config(max_current_a=16)
    assert abs(amps_for(7.36, config) - 7.36 * 1000 / 690) < 1e-9  # 3 phases, 230 V
    assert amps_for(22, config) == 16  # the CP's own maximum
    assert amps_for(4.0, config) == 0  # 5.8 A: below the minimum, nothing
    one = make_config(phases=1)
    assert abs(amps_for(3.68, one) - 16) < 1e-9


def test_config_bounds_are_checked():
    cases = (("phases", 2, "phases"), ("max_current_a", 100, "max_current_a"),
             ("safe_limit_kw", -1, "safe_limit_kw"), ("pilot", "pwm", "pilot_pin"))
    for key, value, named in cases:
        error = raises(ConfigError, make_config_with, {key: value})
        assert named in error.args[0], error.args[0]


def make_config_with(overrides):
    return make_config(**overrides)


def test_no_limit_offers_the_session_rate_and_idle_offers_nothing():
    cp, hw = _charging()
    assert hw.pilot[0] == DUTY_OFF  # boot: no session, no charging offered
    assert hw.pilot[-1] == duty_for(11000 / 690)  # start_command's 11 kW
    assert "limit_kw" not in cp.health()  # not load managed


def test_limit_lowers_the_pilot_and_is_confirmed():
    cp, hw = _charging()
    handlers = EngineHandlers(cp, None)
    reply = handlers.set_charging_limit(_limit_msg(7.33))
    assert reply["type"] == "command_response" and reply["status"] == "success", reply
    assert reply["command"] == "set_charging_limit"
    assert hw.pilot[-1] == duty_for(7330 / 690)
    assert cp.health()["limit_kw"] == 7.33
    assert cp.tick(1000)[0]["limit_kw"] == cp.offer_kw and 7.2 < cp.offer_kw <= 7.33
    wrong = handlers.set_charging_limit(_limit_msg(5, cp_id="CP9"))
    assert wrong["status"] == "failure" and hw.pilot[-1] == duty_for(7330 / 690)


def test_limit_below_six_amps_pauses_without_ending_the_session():
    cp, hw = _charging(ev_full_s=2)
    cp.set_limit(_limit_msg(0))
    assert hw.pilot[-1] == DUTY_OFF and cp.offer_kw == 0
    hw.power_kw = 0.0  # the car obeys the pilot
    for second in range(1, 10):
        cp.tick(second * 1000)
    assert cp.is_charging() and hw.closed  # paused, not ev_full
    cp.set_limit(_limit_msg(11))
    assert hw.pilot[-1] == duty_for(11000 / 690)


def test_expired_limit_falls_back_to_the_safe_limit():
    config = make_config(safe_limit_kw=4.2)
    limit = ChargingLimit(config)
    assert limit.effective_kw(1000) is None
    limit.set(9.0, 30, now=1000)
    assert limit.effective_kw(1029) == 9.0
    assert limit.effective_kw(1030) == 4.2


def test_renewals_do_not_write_flash_each_time():
    limit = ChargingLimit(make_config())
    assert limit.set(9.0, 30, now=1000)  # new value: written
    assert not limit.set(9.0, 30, now=1005)  # renewal: RAM only
    assert not limit.set(9.0, 30, now=1010)
    assert limit.set(9.0, 30, now=1016)  # persisted expiry half gone: written again
    assert limit.set(7.0, 30, now=1017)  # changed: written


def test_limit_survives_a_reboot():
    cp, hw = _charging()
    cp.set_limit(_limit_msg(7.33, hold_s=600))
    again = ChargePoint(cp.config, FakeHardware(), StateStore(cp.config["state_dir"]))
    again.boot()
    assert again.health()["limit_kw"] == 7.33
    expired = ChargePoint(cp.config, FakeHardware(), StateStore(cp.config["state_dir"]))
    expired.limit.restore({"limit_kw": 7.33, "until": 1})
    assert expired.health()["limit_kw"] == cp.config["safe_limit_kw"]


def test_pilot_that_does_not_answer_is_retried():
    cp, hw = _charging()
    hw.pilot_silent = True
    cp.set_limit(_limit_msg(7.0))
    assert cp.pilot_duty is None
    hw.pilot_silent = False
    cp.tick(1000)
    assert hw.pilot[-1] == duty_for(7000 / 690)
