"""Kill matrix 2: the Engine dies mid-session (grading guide)."""
import time

from e2ekit import assert_billed_once, session_id_of, wait_charging, wait_finalised


def test_engine_killed_mid_session_faults_then_bills_the_energy_after_restart(make_network):
    net = make_network()
    meter_before = net.meter_kwh("CP1")
    run = net.start_driver("D1", "charge", "CP1")
    session_id = session_id_of(run)
    seen = wait_charging(run)

    net.kill_engine("CP1")
    net.wait_state("CP1", "FAULTED", timeout=15)
    told = run.wait_event(lambda e: e.get("event") == "faulted", timeout=15,
                          what="the driver told of the fault")
    assert told["session_id"] == session_id
    # With the Engine dead the contactor stays closed and the meter keeps counting:
    # the rebooted Engine must bill that energy too.
    time.sleep(1.0)
    assert net.sim("CP1", "status")["relay_closed"]

    net.start_engine("CP1")
    assert run.wait(60) == 0, run.proc.log()
    session = wait_finalised(net, session_id)
    assert session["reason"] == "fault"
    assert session["energy_kwh"] > seen["energy_kwh"]
    assert_billed_once(net, "CP1", meter_before, run.events())
    net.wait_state("CP1", "AVAILABLE")
