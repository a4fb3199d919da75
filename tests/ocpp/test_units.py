"""The gateway's pure parts: MeterValues units and bad samples, frame checks,
the Basic header."""
from __future__ import annotations

import base64

import pytest

from evocpp import basic_auth, frames, meter


def sampled(*values: dict) -> list[dict]:
    return [{"timestamp": "2026-01-01T00:00:00Z", "sampled_value": list(values)}]


def test_energy_in_wh_or_kwh_and_power_in_w_or_kw():
    assert meter.read(sampled({"value": "12345"})) == (12.345, None)  # Wh, the default
    assert meter.read(sampled({"value": "12.5", "unit": "kWh",
                               "measurand": meter.ENERGY},
                              {"value": "7.4", "unit": "kW", "measurand": meter.POWER})) \
        == (12.5, 7.4)
    assert meter.read(sampled({"value": "7400", "measurand": meter.POWER}))[1] == \
        pytest.approx(7.4)


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "abc", "", "1e30"])
def test_a_bad_sample_costs_only_itself(value):
    energy, _power = meter.read(sampled({"value": value}, {"value": "1000"}))
    assert energy == 1.0  # the good sample after it still counts


def test_per_phase_and_unknown_units_are_ignored():
    assert meter.read(sampled({"value": "500", "phase": "L1"})) == (None, None)
    assert meter.read(sampled({"value": "500", "unit": "varh"})) == (None, None)


def test_frames():
    assert frames.check('[2, "a", "Heartbeat", {}]') == [2, "a", "Heartbeat", {}]
    with pytest.raises(frames.BadFrame) as bad:
        frames.check('[2, "' + "x" * 37 + '", "Heartbeat", {}]')
    assert (bad.value.unique_id, bad.value.code) == ("-1", "ProtocolError")
    with pytest.raises(frames.BadFrame) as bad:
        frames.check('[2, "a", "Heartbeat", []]')
    assert (bad.value.unique_id, bad.value.code) == ("a", "FormationViolation")
    assert frames.result_ok([3, "a", {}]) and not frames.result_ok([3, "a"])
    assert frames.result_ok([4, "a", "GenericError", "", {}])


def test_basic_header_and_path():
    header = "Basic " + base64.b64encode(b"CP:1:pa:ss").decode()
    assert basic_auth.password_of(header, "CP:1") == "pa:ss"  # ids may contain ':'
    for bad in (None, "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"CP2:x").decode(),
                "Basic " + "A" * 2000):
        with pytest.raises(basic_auth.Refused):
            basic_auth.password_of(bad, "CP:1")
    assert basic_auth.cp_id_of("/ocpp/WB1?x=1") == "WB1"
    for path in ("/other/WB1", "/ocpp/", "/ocpp/WB 1", "/ocpp/" + "x" * 65, "/ocpp/a%0Ab"):
        with pytest.raises(basic_auth.Refused):
            basic_auth.cp_id_of(path)
