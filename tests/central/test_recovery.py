"""Central restarts, Kafka-path driver requests, clean shutdown."""
from __future__ import annotations

from central_testkit import charge_request, charging_data, completion

from evharness.procs import wait_until
from evkafka import names
from evwire import make
from evwire import types as t
from evwire.compat import unix_time


def _start(central, mon, driver_id="D1"):
    driver = central.driver(driver_id)
    reply = driver.request(charge_request(mon.cp_id, driver_id))
    driver.close()
    mon.answer(mon.recv_type(t.START_CHARGING_COMMAND))
    mon.status, mon.session_id = t.CP_CHARGING, reply["session_id"]
    return reply["session_id"]


def _tickets(tap, driver_id, session_id):
    return tap.matching(lambda k, m: k == driver_id and m["type"] == t.CHARGE_COMPLETION
                        and m["session_id"] == session_id)


def _settled(tap, driver_id):
    """Answer to a later Kafka request of this driver: what Central sent before is visible."""
    marker = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id=driver_id,
                                     timestamp=unix_time()))
    tap.wait_for(lambda k, m: m.get("message_id") == marker["message_id"], timeout=15)


def test_completion_while_central_is_down_is_finalised_once(central, tap):
    mon = central.monitor("CP1").beat()
    session_id = _start(central, mon)
    tap.cp_event(charging_data("CP1", session_id, "D1", 3.0))
    tap.wait_for(lambda k, m: m["type"] == t.CHARGING_DATA and m["session_id"] == session_id)

    central.proc.kill()  # SIGKILL: no clean-up
    assert mon.wait_closed(5)
    mon.close()
    tap.cp_event(completion("CP1", session_id, "D1", 8.0))  # while Central is down
    central.start()
    assert central.cp_status("CP1") == t.CP_DISCONNECTED  # every CP, at start

    wait_until(lambda: central.session_row(session_id).get("ticket_sent") == 1, timeout=15,
               what="finalised and ticket sent after restart")
    stored = central.session_row(session_id)
    assert stored["finalised"] == 1 and stored["energy_kwh"] == 8.0 and stored["cost"] == 2.4
    _settled(tap, "D1")
    assert len(_tickets(tap, "D1", session_id)) == 1

    # A second restart re-reads committed offsets: nothing is finalised or sent again.
    central.proc.terminate()
    central.start()
    _settled(tap, "D1")
    assert len(_tickets(tap, "D1", session_id)) == 1


def test_active_session_survives_a_central_restart(central, tap):
    mon = central.monitor("CP1").beat()
    session_id = _start(central, mon)
    wait_until(lambda: central.session_row(session_id).get("status") == "active", what="active")
    central.proc.kill()
    mon.close()
    central.start()
    back = central.monitor("CP1")
    back.status, back.session_id = t.CP_CHARGING, session_id
    back.beat()
    wait_until(lambda: central.cp_status("CP1") == t.CP_CHARGING, what="CHARGING again")
    sessions = central.admin("list_sessions")["data"]
    assert [(s["session_id"], s["status"]) for s in sessions] == [(session_id, "active")]
    tap.cp_event(charging_data("CP1", session_id, "D1", 1.5))
    # On PostgreSQL the consumer group's partitions come back to the restarted Central
    # once the killed one's group session has timed out (evkafka.group, 6 s) and the
    # group has rebalanced.
    tap.wait_for(lambda k, m: k == "D1" and m["type"] == t.CHARGING_STATUS_UPDATE
                 and m["energy_consumed_kwh"] == 1.5, timeout=30)
    tap.cp_event(completion("CP1", session_id, "D1", 2.0))
    wait_until(lambda: central.session_row(session_id).get("ticket_sent") == 1, what="ticket")
    back.close()


def test_driver_requests_by_kafka_are_answered_on_driver_events(central, tap):
    mon = central.monitor("CP1").beat()
    central.add_driver("D5")  # its requests are signed with its secret
    listing = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D5",
                                      timestamp=unix_time()))
    answer = tap.wait_for(lambda k, m: m.get("message_id") == listing["message_id"])[0]
    assert answer[0] == "D5" and answer[1]["type"] == t.AVAILABLE_CPS_RESPONSE
    assert {p["cp_id"] for p in answer[1]["charging_points"]} == {"CP1", "CP2"}

    request = tap.driver_request(charge_request("CP1", "D5"))
    key, reply = tap.wait_for(lambda k, m: m.get("message_id") == request["message_id"])[0]
    assert key == "D5" and reply["type"] == t.CHARGE_REQUEST_RESPONSE
    assert reply["status"] == t.SUCCESS
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    assert command["session_id"] == reply["session_id"] and command["driver_id"] == "D5"
    mon.answer(command)
    assert central.session_row(reply["session_id"])["origin"] == "kafka"

    history = tap.driver_request(make(t.SESSION_HISTORY_REQUEST, driver_id="D5",
                                      timestamp=unix_time()))
    found = tap.wait_for(lambda k, m: m.get("message_id") == history["message_id"])[0][1]
    assert [s["session_id"] for s in found["sessions"]] == [reply["session_id"]]

    bad = tap.driver_request({"type": t.CHARGE_REQUEST, "message_id": "bad-1",
                              "driver_id": "D5", "timestamp": unix_time()})
    err = tap.wait_for(lambda k, m: m.get("message_id") == bad["message_id"])[0][1]
    assert err["type"] == t.ERROR_RESPONSE and "missing field 'cp_id'" in err["error"]
    mon.close()


def test_stale_kafka_charge_requests_are_refused_not_started(central, tap):
    """A request read long after its driver gave up (Central was down) starts nothing."""
    mon = central.monitor("CP1").beat()
    for driver_id in ("D6", "D7", "D8"):
        central.add_driver(driver_id)
    expired = charge_request("CP1", "D6")
    expired["expires_at"] = unix_time() - 5
    old = charge_request("CP1", "D7")
    old["timestamp"] = unix_time() - 60  # older than the default --kafka-request-ttl
    for request in (expired, old):
        tap.driver_request(request)
        reply = tap.wait_for(lambda k, m, r=request: m.get("message_id") == r["message_id"])
        assert reply[0][1]["status"] == t.FAILURE and reply[0][1]["reason"] == "expired"
    fresh = charge_request("CP1", "D8")
    fresh["expires_at"] = unix_time() + 30
    tap.driver_request(fresh)
    reply = tap.wait_for(lambda k, m: m.get("message_id") == fresh["message_id"])[0][1]
    assert reply["status"] == t.SUCCESS
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    assert command["driver_id"] == "D8", "only the fresh request may start a session"
    mon.close()


def test_undecodable_records_are_skipped(central, tap):
    tap.producer.produce(names.cp_events(), key=b"CP1", value=b"\xff\x00")
    tap.producer.flush(10)
    wait_until(lambda: "dead letter" in central.log(), what="bad record set aside")
    # The consumer goes on with the next records.
    central.add_driver("D1")
    listing = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D1",
                                      timestamp=unix_time()))
    tap.wait_for(lambda k, m: m.get("message_id") == listing["message_id"])


def test_sigterm_shuts_down_cleanly(central):
    mon = central.monitor("CP1")
    assert central.proc.terminate() == 0
    assert "stopped" in central.log().splitlines()[-1]
    assert mon.wait_closed(5)
    mon.close()
