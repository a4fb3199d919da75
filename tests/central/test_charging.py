"""Charging sessions through a real Central: socket requests, Kafka telemetry, tickets."""
from __future__ import annotations

from central_testkit import charge_request, charging_data, completion

from evharness.procs import wait_until
from evwire import make
from evwire import types as t
from evwire.compat import unix_time


def _start_session(central, mon, driver, cp_id="CP1", driver_id="D1"):
    reply = driver.request(charge_request(cp_id, driver_id))
    assert reply["type"] == t.CHARGE_REQUEST_RESPONSE and reply["status"] == t.SUCCESS, reply
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    assert command["session_id"] == reply["session_id"]
    mon.answer(command)
    mon.status, mon.session_id = t.CP_CHARGING, command["session_id"]
    return reply["session_id"], command


def _is(key, msg, driver_id, msg_type, session_id):
    return key == driver_id and msg["type"] == msg_type and msg.get("session_id") == session_id


def test_full_charge_flow(central, tap):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    session_id, command = _start_session(central, mon, driver)
    assert command["driver_id"] == "D1" and command["price_per_kwh"] == 0.30
    assert command["max_charging_rate_kw"] == 22.0  # from the registration
    wait_until(lambda: central.cp_status("CP1") == t.CP_CHARGING, what="CP1 CHARGING")

    tap.cp_event(charging_data("CP1", session_id, "D1", 5.0))
    updates = tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGING_STATUS_UPDATE, session_id))
    update = updates[0][1]
    assert update["status"] == "charging" and update["progress"] == 10
    assert update["energy_consumed_kwh"] == 5.0 and update["total_cost"] == 1.5
    assert tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGING_DATA, session_id))
    row = {r["cp_id"]: r for r in central.admin("list_cps")["data"]}["CP1"]
    assert row["session"]["driver_id"] == "D1" and row["session"]["energy_consumed_kwh"] == 5.0

    tap.cp_event(completion("CP1", session_id, "D1", 7.5))
    ticket = tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGE_COMPLETION, session_id))[0][1]
    assert ticket["energy_consumed_kwh"] == 7.5 and ticket["total_cost"] == 2.25
    wait_until(lambda: central.session_row(session_id).get("ticket_sent") == 1,
               what="ticket_sent")
    stored = central.session_row(session_id)
    assert stored["status"] == "completed" and stored["energy_kwh"] == 7.5
    assert stored["cost"] == 2.25 and stored["reason"] == t.REASON_EV_FULL
    assert stored["meter_start_kwh"] == 100.0 and stored["meter_stop_kwh"] == 107.5

    mon.status, mon.session_id = t.CP_AVAILABLE, None
    wait_until(lambda: central.cp_status("CP1") == t.CP_AVAILABLE, what="CP1 free again")
    history = driver.request(make(t.SESSION_HISTORY_REQUEST, driver_id="D1",
                                  timestamp=unix_time()))
    assert history["type"] == t.SESSION_HISTORY_RESPONSE
    assert [s["session_id"] for s in history["sessions"]] == [session_id]
    assert history["sessions"][0]["energy_consumed_kwh"] == 7.5
    assert history["sessions"][0]["status"] == "completed"
    mon.close()
    driver.close()


def test_duplicate_completion_is_billed_once(central, tap):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    session_id, _cmd = _start_session(central, mon, driver)
    final = completion("CP1", session_id, "D1", 4.0)
    tap.cp_event(final)
    tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGE_COMPLETION, session_id))
    tap.cp_event(final)  # redelivered as-is
    tap.cp_event(completion("CP1", session_id, "D1", 9.0))  # a second, different one
    wait_until(lambda: central.log().count("already finalised") >= 2, what="duplicates seen")
    # A later answer to D1 on the same partition proves nothing else was sent before it.
    marker = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D1",
                                     timestamp=unix_time()))
    tap.wait_for(lambda k, m: m.get("message_id") == marker["message_id"])
    tickets = tap.matching(lambda k, m: _is(k, m, "D1", t.CHARGE_COMPLETION, session_id))
    assert len(tickets) == 1
    stored = central.session_row(session_id)
    assert stored["energy_kwh"] == 4.0 and stored["cost"] == 1.2
    mon.close()
    driver.close()


def test_failed_start_ends_session_and_tells_driver(central, tap):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    reply = driver.request(charge_request("CP1", "D1"))
    session_id = reply["session_id"]
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    mon.answer(command, ok=False, message="relay did not close")
    failed = tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGING_STATUS_UPDATE, session_id)
                          and m["status"] == "failed")[0][1]
    assert "relay did not close" in failed["message"]
    ticket = tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGE_COMPLETION, session_id))[0][1]
    assert ticket["energy_consumed_kwh"] == 0 and ticket["reason"] == t.REASON_START_FAILED
    stored = central.session_row(session_id)
    assert stored["status"] == "failed" and stored["energy_kwh"] == 0
    again = driver.request(charge_request("CP1", "D1"))
    assert again["status"] == t.SUCCESS, "CP and driver must be free after a failed start"
    mon.close()
    driver.close()


def test_engine_completion_after_a_reported_failed_start_is_billed(central, tap):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    session_id = driver.request(charge_request("CP1", "D1"))["session_id"]
    mon.answer(mon.recv_type(t.START_CHARGING_COMMAND), ok=False, message="command timeout")
    wait_until(lambda: central.session_row(session_id).get("ticket_sent") == 1, what="failed")
    # ...but the Engine did start, and its completion comes later: it is the truth.
    final = completion("CP1", session_id, "D1", 3.0)
    tap.cp_event(final)
    tickets = tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGE_COMPLETION, session_id),
                           count=2)
    assert tickets[-1][1]["message_id"] == final["message_id"]
    wait_until(lambda: central.session_row(session_id).get("ticket_sent") == 1, what="resent")
    stored = central.session_row(session_id)
    assert stored["status"] == "completed" and stored["energy_kwh"] == 3.0
    tap.cp_event(final)  # and only once
    wait_until(lambda: "already finalised" in central.log(), what="duplicate seen")
    assert central.session_row(session_id)["energy_kwh"] == 3.0
    mon.close()
    driver.close()


def test_error_response_to_start_command_fails_the_session(central, tap):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    session_id = driver.request(charge_request("CP1", "D1"))["session_id"]
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    mon.send(make(t.ERROR_RESPONSE, command["message_id"], error="engine unreachable",
                  cp_id="CP1"))
    tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGE_COMPLETION, session_id))
    assert central.session_row(session_id)["status"] == "failed"
    mon.close()
    driver.close()


def test_charge_request_refusals_in_order(central):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")

    drivers = {"D1": driver}

    def ask(cp_id, driver_id="D1"):
        if driver_id not in drivers:
            drivers[driver_id] = central.driver(driver_id)
        reply = drivers[driver_id].request(charge_request(cp_id, driver_id))
        assert reply["type"] == t.CHARGE_REQUEST_RESPONSE
        assert reply["status"] == t.FAILURE and reply["session_id"] is None
        assert reply["message"]
        return reply["reason"]

    assert ask("CP9") == "unknown_cp"
    assert ask("CP2") == "disconnected"
    central.admin("stop_cp", cp_id="CP1", reason="maintenance")
    assert ask("CP1") == "stopped"
    central.admin("resume_cp", cp_id="CP1")
    mon.send(make(t.FAULT_NOTIFICATION, cp_id="CP1", fault_type="engine_unreachable",
                  timestamp=unix_time()))
    wait_until(lambda: central.cp_status("CP1") == t.CP_FAULTED, what="CP1 FAULTED")
    assert ask("CP1") == "faulted"
    mon.send(make(t.RECOVERY_NOTIFICATION, cp_id="CP1", timestamp=unix_time()))
    wait_until(lambda: central.cp_status("CP1") == t.CP_AVAILABLE, what="CP1 recovered")
    session_id, _cmd = _start_session(central, mon, driver)
    assert ask("CP1", "D2") == "busy"
    mon2 = central.monitor("CP2").beat()
    assert ask("CP2", "D1") == "driver_busy"
    assert session_id
    mon.close()
    mon2.close()
    for each in drivers.values():
        each.close()


def test_same_request_twice_opens_one_session(central):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    request = charge_request("CP1", "D1")
    first = driver.request(request)
    second = driver.request(request)
    assert first["status"] == second["status"] == t.SUCCESS
    assert first["session_id"] == second["session_id"]
    mon.recv_type(t.START_CHARGING_COMMAND)
    mon.close()
    driver.close()


def test_fault_interrupts_session_until_engine_completion(central, tap):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    session_id, _cmd = _start_session(central, mon, driver)
    tap.cp_event(charging_data("CP1", session_id, "D1", 2.0))
    mon.status = t.CP_FAULTED
    mon.send(make(t.FAULT_NOTIFICATION, cp_id="CP1", fault_type="engine_unreachable",
                  session_id=session_id, timestamp=unix_time()))
    faulted = tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGING_STATUS_UPDATE, session_id)
                           and m["status"] == "faulted")[0][1]
    assert "engine_unreachable" in faulted["message"]
    wait_until(lambda: central.session_row(session_id).get("status") == "interrupted",
               what="session interrupted")
    mon.status = t.CP_AVAILABLE
    mon.send(make(t.RECOVERY_NOTIFICATION, cp_id="CP1", timestamp=unix_time()))
    tap.cp_event(completion("CP1", session_id, "D1", 2.5, reason=t.REASON_FAULT))
    tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGE_COMPLETION, session_id))
    wait_until(lambda: central.session_row(session_id).get("finalised") == 1, what="finalised")
    assert central.session_row(session_id)["energy_kwh"] == 2.5
    mon.close()
    driver.close()


def test_stop_charging_request_only_by_its_driver(central):
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    session_id, _cmd = _start_session(central, mon, driver)

    def stop(driver_id, **kw):
        fields = {"driver_id": driver_id} if driver_id else {}
        return driver.request(make(t.STOP_CHARGING_REQUEST, cp_id=kw.get("cp_id", "CP1"),
                                   session_id=kw.get("session_id", session_id),
                                   timestamp=unix_time(), **fields))

    assert stop("D2")["code"] == "driver_mismatch"  # D1's connection cannot speak for D2
    other = central.driver("D2")
    not_yours = other.request(make(t.STOP_CHARGING_REQUEST, cp_id="CP1", session_id=session_id,
                                   driver_id="D2", timestamp=unix_time()))
    assert not_yours["reason"] == "not_your_session"
    other.close()
    assert stop(None)["status"] == t.SUCCESS  # driver_id defaults to the authenticated one
    command = mon.recv_type(t.STOP_CHARGING_COMMAND)
    assert command["session_id"] == session_id
    assert stop("D1", session_id="nope")["reason"] == "unknown_session"
    reply = stop("D1")
    assert reply["type"] == t.STOP_CHARGING_RESPONSE and reply["status"] == t.SUCCESS
    command = mon.recv_type(t.STOP_CHARGING_COMMAND)
    assert command["session_id"] == session_id and command["cp_id"] == "CP1"
    mon.close()
    driver.close()


def test_available_cps_lists_every_cp_with_status(central_factory):
    central = central_factory("CP1", "CP2", price=0.45)
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    reply = driver.request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D1", timestamp=unix_time()))
    assert reply["type"] == t.AVAILABLE_CPS_RESPONSE
    points = {p["cp_id"]: p for p in reply["charging_points"]}
    assert points["CP1"] == {"cp_id": "CP1", "location": "Test Street 1", "status": "AVAILABLE",
                             "price_per_kwh": 0.45, "max_charging_rate_kw": 22.0}
    assert points["CP2"]["status"] == t.CP_DISCONNECTED
    assert points["CP2"]["max_charging_rate_kw"] == 11.0
    mon.close()
    driver.close()


def test_require_known_drivers(central_factory):
    """Socket and Kafka drivers are known by their credential; the flag still guards a
    driver_id typed at a charge point (walk-up menu)."""
    central = central_factory("CP1", args=("--require-known-drivers",), start=False)
    central.add_driver("D42", card="CARD-42")
    central.start()
    mon = central.monitor("CP1").beat()
    refused = mon.request(make(t.LOCAL_CHARGE_REQUEST, cp_id="CP1", driver_id="D7",
                               timestamp=unix_time()))
    assert refused["status"] == t.FAILURE and refused["reason"] == "unknown_driver"
    assert "D7" in refused["message"]
    driver = central.driver("D42")
    accepted = driver.request(charge_request("CP1", "D42"))
    assert accepted["status"] == t.SUCCESS
    mon.close()
    driver.close()


def test_walk_up_request_by_card(central_factory):
    central = central_factory("CP1", "CP2", args=("--require-known-drivers",), start=False)
    central.add_driver("D42", card="CARD-42")
    central.start()
    mon = central.monitor("CP1").beat()
    unknown = mon.request(make(t.LOCAL_CHARGE_REQUEST, cp_id="CP1", card_uid="CARD-99",
                               timestamp=unix_time()))
    assert unknown["type"] == t.LOCAL_CHARGE_RESPONSE and unknown["status"] == t.FAILURE
    assert unknown["reason"] == "unknown_driver"
    known = mon.request(make(t.LOCAL_CHARGE_REQUEST, cp_id="CP1", card_uid="CARD-42",
                             timestamp=unix_time()))
    assert known["status"] == t.SUCCESS and known["driver_id"] == "D42"
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    assert command["session_id"] == known["session_id"] and command["driver_id"] == "D42"
    mon.close()


def test_unanswered_start_command_fails_after_the_start_timeout(central_factory, tap):
    central = central_factory("CP1", args=("--start-timeout", "1"))
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    session_id = driver.request(charge_request("CP1", "D1"))["session_id"]
    mon.recv_type(t.START_CHARGING_COMMAND)  # ...and never answered (a lost command)
    failed = tap.wait_for(lambda k, m: _is(k, m, "D1", t.CHARGING_STATUS_UPDATE, session_id)
                          and m["status"] == "failed")[0][1]
    assert "did not answer the start command" in failed["message"]
    wait_until(lambda: central.session_row(session_id).get("status") == "failed",
               what="session failed")
    again = driver.request(charge_request("CP1", "D1"))
    assert again["status"] == t.SUCCESS, "CP and driver must be free again"
    mon.close()
    driver.close()
