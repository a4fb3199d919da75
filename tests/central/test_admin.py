"""The operator's manual_command at a real Central: stop/resume, close_session, tokens."""
from __future__ import annotations

from central_testkit import charge_request, charging_data, completion

from evharness.procs import wait_until
from evwire import make
from evwire import types as t
from evwire.compat import unix_time


def _charging(central, mon, driver_id="D1"):
    driver = central.driver(driver_id)
    reply = driver.request(charge_request(mon.cp_id, driver_id))
    driver.close()
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    mon.answer(command)
    mon.status, mon.session_id = t.CP_CHARGING, reply["session_id"]
    return reply["session_id"]


def test_stop_and_resume_with_a_running_session(central, tap):
    mon = central.monitor("CP1").beat()
    session_id = _charging(central, mon)
    reply = central.admin("stop_cp", cp_id="CP1", reason="cable damaged")
    assert reply["type"] == t.MANUAL_COMMAND_RESPONSE and reply["status"] == t.SUCCESS
    stop = mon.recv_type(t.STOP_CP_COMMAND)
    assert stop["cp_id"] == "CP1" and stop["reason"] == "cable damaged"
    told = tap.wait_for(lambda k, m: k == "D1" and m["type"] == t.CHARGING_STATUS_UPDATE
                        and m["status"] == "stopped_by_operator")[0][1]
    assert "cable damaged" in told["message"]
    # The Monitor stops its Engine; the Engine's completion ends the session.
    mon.answer(stop)
    mon.status, mon.session_id = t.CP_STOPPED, None
    tap.cp_event(completion("CP1", session_id, "D1", 3.2, reason=t.REASON_CP_STOPPED))
    wait_until(lambda: central.session_row(session_id).get("finalised") == 1, what="finalised")
    assert central.session_row(session_id)["reason"] == t.REASON_CP_STOPPED
    row = {r["cp_id"]: r for r in central.admin("list_cps")["data"]}["CP1"]
    assert row["status"] == t.CP_STOPPED and row["stop_reason"] == "cable damaged"
    assert row["session"] is None

    assert central.admin("resume_cp", cp_id="CP1")["status"] == t.SUCCESS
    assert mon.recv_type(t.RESUME_CP_COMMAND)["cp_id"] == "CP1"
    mon.status = t.CP_AVAILABLE
    wait_until(lambda: central.cp_status("CP1") == t.CP_AVAILABLE, what="CP1 resumed")
    mon.close()


def test_stop_all_and_resume_all(central, tap):
    mon1 = central.monitor("CP1").beat()
    mon2 = central.monitor("CP2").beat()
    session_id = _charging(central, mon1)
    reply = central.admin("stop_all", reason="storm")
    assert reply["status"] == t.SUCCESS and reply["data"] == ["CP1", "CP2"]
    assert mon1.recv_type(t.STOP_CP_COMMAND)["reason"] == "storm"
    assert mon2.recv_type(t.STOP_CP_COMMAND)
    tap.cp_event(completion("CP1", session_id, "D1", 1.0, reason=t.REASON_CP_STOPPED))
    wait_until(lambda: central.session_row(session_id).get("finalised") == 1, what="finalised")
    statuses = {r["cp_id"]: r["status"] for r in central.admin("list_cps")["data"]}
    assert statuses == {"CP1": t.CP_STOPPED, "CP2": t.CP_STOPPED}
    # A CP stopped while away learns it at registration.
    mon2.close()
    again = central.monitor("CP2", connect=False)
    again.auth()
    assert again.register()["cp_status"] == t.CP_STOPPED
    assert central.admin("resume_all")["status"] == t.SUCCESS
    assert mon1.recv_type(t.RESUME_CP_COMMAND) and again.recv_type(t.RESUME_CP_COMMAND)
    mon1.status = t.CP_AVAILABLE
    wait_until(lambda: central.cp_status("CP1") == t.CP_AVAILABLE, what="CP1 resumed")
    mon1.close()
    again.close()


def test_cp_stopped_while_its_monitor_was_away_is_told_on_return(central):
    mon = central.monitor("CP1").beat()
    session_id = _charging(central, mon)
    mon.close()
    wait_until(lambda: central.cp_status("CP1") == t.CP_DISCONNECTED, what="away")
    assert "not connected" in central.admin("stop_cp", cp_id="CP1", reason="vandalism")["message"]
    back = central.monitor("CP1", connect=False)
    back.auth()
    assert back.register()["cp_status"] == t.CP_STOPPED
    back.status, back.session_id = t.CP_CHARGING, session_id  # its Engine kept charging
    back.heartbeat()
    assert back.recv_type(t.STOP_CP_COMMAND)["reason"] == "vandalism"
    back.status = t.CP_STOPPED
    back.heartbeat()
    assert central.admin("resume_cp", cp_id="CP1")["status"] == t.SUCCESS
    assert back.recv_type(t.RESUME_CP_COMMAND)
    back.close()


def test_close_session_of_a_cp_that_never_returns(central, tap):
    mon = central.monitor("CP1").beat()
    session_id = _charging(central, mon)
    tap.cp_event(charging_data("CP1", session_id, "D1", 6.0))
    tap.wait_for(lambda k, m: m["type"] == t.CHARGING_DATA and m["session_id"] == session_id)
    running = central.admin("close_session", session_id=session_id)
    assert running["status"] == t.FAILURE and running["reason"] == "session_running"
    mon.send(make(t.FAULT_NOTIFICATION, cp_id="CP1", fault_type="engine_unreachable",
                  session_id=session_id, timestamp=unix_time()))
    mon.close()  # and the CP never comes back
    wait_until(lambda: central.session_row(session_id).get("status") == "interrupted",
               what="interrupted")
    closed = central.admin("close_session", session_id=session_id)
    assert closed["status"] == t.SUCCESS and closed["data"]["energy_consumed_kwh"] == 6.0
    ticket = tap.wait_for(lambda k, m: k == "D1" and m["type"] == t.CHARGE_COMPLETION)[0][1]
    assert ticket["reason"] == t.REASON_CLOSED_BY_OPERATOR
    assert ticket["energy_consumed_kwh"] == 6.0 and ticket["total_cost"] == 1.8
    twice = central.admin("close_session", session_id=session_id)
    assert twice["status"] == t.FAILURE and twice["reason"] == "already_ended"
    stored = central.session_row(session_id)
    assert stored["status"] == "closed" and stored["energy_kwh"] == 6.0


def test_close_session_with_impossible_energy_is_disputed_not_billed(central, tap):
    """The operator's close bills the CP's last reported energy: checked against the
    CP's power like a completion, so an absurd last report bills nothing."""
    mon = central.monitor("CP1").beat()
    session_id = _charging(central, mon)
    tap.cp_event(charging_data("CP1", session_id, "D1", 9000.0))
    tap.wait_for(lambda k, m: m["type"] == t.CHARGING_DATA and m["session_id"] == session_id)
    mon.send(make(t.FAULT_NOTIFICATION, cp_id="CP1", fault_type="engine_unreachable",
                  session_id=session_id, timestamp=unix_time()))
    mon.close()
    wait_until(lambda: central.session_row(session_id).get("status") == "interrupted",
               what="interrupted")
    assert central.admin("close_session", session_id=session_id)["status"] == t.SUCCESS
    ticket = tap.wait_for(lambda k, m: k == "D1" and m["type"] == t.CHARGE_COMPLETION)[0][1]
    assert ticket["total_cost"] == 0
    stored = central.session_row(session_id)
    assert stored["status"] == "disputed" and stored["cost"] == 0
    assert stored["dispute_reason"]  # why, for the operator who settles it


def test_wrong_token_and_bad_commands(central):
    wrong = central.admin("list_cps", token="guess")
    assert wrong["status"] == t.FAILURE and wrong["reason"] == "bad_token"
    assert "token" in wrong["message"]
    unknown = central.admin("reboot_everything")
    assert unknown["status"] == t.FAILURE and "list_cps" in unknown["message"]
    assert central.admin("stop_cp")["reason"] == "missing_cp_id"
    assert central.admin("stop_cp", cp_id="CP9")["reason"] == "unknown_cp"
    assert central.admin("close_session", session_id="nope")["reason"] == "unknown_session"


def test_admin_refused_without_a_configured_token(central_factory):
    central = central_factory("CP1", token=None)
    reply = central.admin("list_cps", token="anything")
    assert reply["status"] == t.FAILURE and reply["reason"] == "admin_disabled"
    assert "--admin-token" in reply["message"]


def test_list_sessions(central):
    mon = central.monitor("CP1").beat()
    session_id = _charging(central, mon)
    sessions = central.admin("list_sessions")["data"]
    assert [s["session_id"] for s in sessions] == [session_id]
    assert sessions[0]["status"] == "active" and sessions[0]["driver_id"] == "D1"
    mon.close()


def test_resume_all_reopens_only_what_stop_all_closed(central):
    """A CP the operator stopped on its own (a damaged cable) stays stopped through
    stop-all and resume-all, with its reason; the others come back."""
    mon1 = central.monitor("CP1").beat()
    mon2 = central.monitor("CP2").beat()
    assert central.admin("stop_cp", cp_id="CP1", reason="cable damaged")["status"] == t.SUCCESS
    assert mon1.recv_type(t.STOP_CP_COMMAND)["reason"] == "cable damaged"
    stopped = central.admin("stop_all", reason="storm")
    assert stopped["status"] == t.SUCCESS and stopped["data"] == ["CP2"]
    assert "1 already stopped" in stopped["message"]
    assert mon2.recv_type(t.STOP_CP_COMMAND)["reason"] == "storm"
    resumed = central.admin("resume_all")
    assert resumed["status"] == t.SUCCESS and resumed["data"] == ["CP2"], resumed
    assert mon2.recv_type(t.RESUME_CP_COMMAND)
    try:
        mon1.recv_type(t.RESUME_CP_COMMAND, timeout=1.0)
        raise AssertionError("resume-all resumed CP1, stopped on its own")
    except TimeoutError:
        pass
    rows = {r["cp_id"]: r for r in central.admin("list_cps")["data"]}
    assert rows["CP1"]["status"] == t.CP_STOPPED
    assert rows["CP1"]["stop_reason"] == "cable damaged"
    mon2.status = t.CP_AVAILABLE
    wait_until(lambda: central.cp_status("CP2") == t.CP_AVAILABLE, what="CP2 resumed")
    mon1.close()
    mon2.close()


def test_stop_without_a_reason_keeps_the_reason(central):
    assert central.admin("stop_cp", cp_id="CP1", reason="cable damaged")["status"] == t.SUCCESS
    assert central.admin("stop_cp", cp_id="CP1")["status"] == t.SUCCESS
    assert central.admin("stop_cp", cp_id="CP2")["status"] == t.SUCCESS
    rows = {r["cp_id"]: r for r in central.admin("list_cps")["data"]}
    assert rows["CP1"]["stop_reason"] == "cable damaged"
    assert rows["CP2"]["stop_reason"] == "stopped by the operator"


def test_a_command_without_a_token_is_told_how_to_give_one(central):
    client = central.client()
    try:
        reply = client.request(make(t.MANUAL_COMMAND, command="list_cps"))
    finally:
        client.close()
    assert reply["status"] == t.FAILURE and reply["reason"] == "missing_token"
    assert "--admin-token-file" in reply["message"]
    assert "EVCHARGE_ADMIN_TOKEN" in reply["message"]
