"""Kill matrix 1: the Monitor dies mid-session (grading guide)."""
from e2ekit import assert_billed_once, session_id_of, wait_charging, wait_finalised

from evharness.procs import wait_until


def test_monitor_killed_mid_session_then_completion_arrives_with_a_new_monitor(make_network):
    net = make_network()
    meter_before = net.meter_kwh("CP1")
    run = net.start_driver("D1", "charge", "CP1")
    session_id = session_id_of(run)
    wait_charging(run)

    net.kill_monitor("CP1")
    net.wait_state("CP1", "DISCONNECTED", timeout=15)  # Central's heartbeat timeout: 2 s
    # The driver is told why its live figures stopped, and that the session is not lost.
    told = run.wait_event(lambda e: e.get("event") == "cp_unreachable", timeout=15,
                          what="the driver told that the CP's Monitor is gone")
    assert told["session_id"] == session_id and told["cp_id"] == "CP1"
    assert "Monitor lost contact with Central" in told["text"]
    assert "ticket follows" in told["text"]
    # The Engine, alone, opens the contactor once its grace period (2 s) is over.
    wait_until(lambda: not net.sim("CP1", "status")["relay_closed"], timeout=20,
               what="the Engine opening the relay without its Monitor")
    meter_when_open = net.meter_kwh("CP1")
    assert not any(s["finalised"] for s in net.db_sessions()), \
        "the completion cannot have reached Central without a Monitor"

    net.start_monitor("CP1")
    assert run.wait(60) == 0, run.proc.log()
    session = wait_finalised(net, session_id)
    assert session["reason"] == "monitor_lost"
    assert net.meter_kwh("CP1") == meter_when_open  # nothing flowed after the relay opened
    assert_billed_once(net, "CP1", meter_before, run.events())
    net.wait_state("CP1", "AVAILABLE")
