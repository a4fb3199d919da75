"""Kill matrix 2: the Engine dies mid-session (grading guide)."""
from e2ekit import assert_billed_once, session_id_of, wait_charging, wait_finalised

from evharness.procs import wait_until


def test_engine_killed_mid_session_faults_then_bills_the_energy_after_restart(make_network):
    net = make_network()
    meter_before = net.meter_kwh("CP1")
    run = net.start_driver("D1", "charge", "CP1")
    session_id = session_id_of(run)
    seen = wait_charging(run)

    net.kill_engine("CP1")
    meter_at_kill = net.meter_kwh("CP1")
    net.wait_state("CP1", "FAULTED", timeout=15)
    told = run.wait_event(lambda e: e.get("event") == "faulted", timeout=15,
                          what="the driver told of the fault")
    assert told["session_id"] == session_id
    # With the Engine dead the contactor stays closed and the meter keeps counting:
    # the rebooted Engine must bill that energy too. Shown by the meter itself (it
    # counts only through a closed contactor), not by a sleep and one look.
    wait_until(lambda: net.meter_kwh("CP1") >= meter_at_kill + 0.05, timeout=20,
               what="the meter counting on with the Engine dead")
    assert net.sim("CP1", "status")["relay_closed"]

    net.start_engine("CP1")
    assert run.wait(60) == 0, run.proc.log()
    session = wait_finalised(net, session_id)
    assert session["reason"] == "fault"
    assert session["energy_kwh"] > seen["energy_kwh"]
    assert_billed_once(net, "CP1", meter_before, run.events())
    net.wait_state("CP1", "AVAILABLE")
