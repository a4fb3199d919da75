"""Kill matrix 3: the driver's client dies mid-session (grading guide)."""
from e2ekit import (
    assert_billed_once,
    json_lines,
    session_id_of,
    tickets,
    wait_charging,
    wait_finalised,
)

from evharness.procs import wait_until


def live_kwh(net, cp_id: str) -> float:
    row = next(r for r in net.cp_rows() if r["cp_id"] == cp_id)
    return (row.get("session") or {}).get("energy_consumed_kwh") or 0.0


def test_driver_killed_mid_session_charging_goes_on_and_restart_shows_the_ticket(make_network):
    net = make_network()
    meter_before = net.meter_kwh("CP1")
    run = net.start_driver("D1", "charge", "CP1")
    session_id = session_id_of(run)
    wait_charging(run)

    net.kill_driver("D1")
    energy_at_kill = live_kwh(net, "CP1")
    wait_until(lambda: live_kwh(net, "CP1") > energy_at_kill + 0.1, timeout=20,
               what="charging going on without the driver")
    assert net.cp_state("CP1") == "CHARGING"

    net.sim("CP1", "unplug")  # the car leaves while the driver's app is closed
    session = wait_finalised(net, session_id)
    assert session["reason"] == "unplugged"

    again = net.driver("D1", "history")
    assert again.returncode == 0, again.stderr
    shown = tickets(json_lines(again.stdout), session_id)
    assert len(shown) == 1 and shown[0]["while_away"] is True
    once_more = net.driver("D1", "history")
    assert once_more.returncode == 0, once_more.stderr
    assert tickets(json_lines(once_more.stdout), session_id) == []  # shown once only

    events = run.events() + json_lines(again.stdout) + json_lines(once_more.stdout)
    assert_billed_once(net, "CP1", meter_before, events)
