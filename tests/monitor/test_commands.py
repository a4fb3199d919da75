"""Commands from Central through the Monitor to the Engine and back (fakes over real TCP)."""
from __future__ import annotations

import pytest

from evharness.procs import free_port, wait_until
from evwire import make
from evwire import types as t


def start_command(central, session_id="S1"):
    return central.command(t.START_CHARGING_COMMAND, session_id=session_id, driver_id="D1",
                           price_per_kwh=0.3, max_charging_rate_kw=22.0)


def answer_to(central, command):
    return central.wait_for(t.COMMAND_RESPONSE,
                            where=lambda m: m["message_id"] == command["message_id"])


@pytest.fixture
def running(fake_engine, fake_central, start_monitor):
    proc = start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    return proc


def test_start_is_forwarded_with_its_message_id_and_the_outcome_relayed(
        running, fake_engine, fake_central):
    start = start_command(fake_central)
    forwarded = fake_engine.wait_for(t.START_CHARGING_COMMAND)
    assert forwarded == start  # unchanged, message_id included
    answer = answer_to(fake_central, start)
    assert answer["status"] == t.SUCCESS
    assert answer["cp_id"] == "CP1"
    assert answer["session_id"] == "S1"
    assert answer["command"] == t.START_CHARGING_COMMAND
    fake_central.wait_for(t.STATUS_UPDATE, where=lambda m: m["status"] == t.CP_CHARGING)
    fake_central.wait_for(t.HEARTBEAT_REQUEST,
                          where=lambda m: m["status"] == t.CP_CHARGING and m["session_id"] == "S1")

    stop = fake_central.command(t.STOP_CHARGING_COMMAND, session_id="S1")
    assert fake_engine.wait_for(t.STOP_CHARGING_COMMAND) == stop
    answer = answer_to(fake_central, stop)
    assert answer["status"] == t.SUCCESS and answer["command"] == t.STOP_CHARGING_COMMAND


def test_engine_failed_command_response_is_reported(running, fake_engine, fake_central):
    fake_engine.command_reply = lambda msg: make(
        t.COMMAND_RESPONSE, msg["message_id"], status=t.FAILURE, message="no vehicle detected",
        session_id=None, error="no vehicle detected")
    start = start_command(fake_central, "S2")
    answer = answer_to(fake_central, start)
    assert answer["status"] == t.FAILURE
    assert answer["message"] == "no vehicle detected"
    assert answer["session_id"] == "S2"  # the command's session, though the Engine said null
    assert answer["command"] == t.START_CHARGING_COMMAND
    wait_until(lambda: "failure (no vehicle detected)" in running.log(), timeout=5)
    assert start["message_id"] in running.log()
    beat = fake_central.wait_for(t.HEARTBEAT_REQUEST, since=fake_central.mark())
    assert beat["status"] == t.CP_AVAILABLE


def test_engine_error_response_is_reported_as_a_failed_command(running, fake_engine,
                                                               fake_central):
    fake_engine.command_reply = lambda msg: make(
        t.ERROR_RESPONSE, msg["message_id"], status=t.FAILURE, error="relay driver crashed",
        code="internal_error", request_type=msg["type"])
    start = start_command(fake_central, "S3")
    answer = answer_to(fake_central, start)
    assert answer["status"] == t.FAILURE
    assert "relay driver crashed" in answer["message"]
    assert answer["session_id"] == "S3"
    wait_until(lambda: "relay driver crashed" in running.log(), timeout=5)


def test_engine_that_never_answers_a_command_is_reported(running, fake_engine, fake_central):
    fake_engine.command_reply = lambda msg: None
    start = start_command(fake_central, "S4")
    answer = answer_to(fake_central, start)  # --command-timeout 2 in the tests
    assert answer["status"] == t.FAILURE
    assert "did not answer" in answer["message"]


def test_chaos_seed_801309_case_2_a_timed_out_start_is_cancelled_at_the_engine(
        running, fake_engine, fake_central):
    """Central was told the start failed: an Engine that wakes up later and runs the
    start it still has must find a stop right behind it, not charge unbilled."""
    fake_engine.command_reply = lambda msg: None  # frozen: reads, never answers
    start = start_command(fake_central, "S5")
    answer = answer_to(fake_central, start)
    assert answer["status"] == t.FAILURE and "did not answer" in answer["message"]
    stop = fake_engine.wait_for(t.STOP_CHARGING_COMMAND, timeout=5,
                                where=lambda m: m["session_id"] == "S5")
    assert stop["reason"] == t.REASON_START_FAILED and stop["cp_id"] == "CP1"
    received = [m["type"] for m in fake_engine.received
                if m.get("session_id") == "S5"]
    assert received == [t.START_CHARGING_COMMAND, t.STOP_CHARGING_COMMAND]
    # Central hears about the start once (the failure), never about the Monitor's stop.
    mark = fake_central.mark()
    fake_central.wait_for(t.HEARTBEAT_REQUEST, since=mark)
    assert [m for m in fake_central.of_type(t.COMMAND_RESPONSE)
            if m.get("command") == t.STOP_CHARGING_COMMAND] == []


def test_unreachable_engine_fails_the_command_at_once(fake_central, start_monitor):
    start_monitor(f"127.0.0.1:{free_port()}", fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    start = start_command(fake_central)
    answer = answer_to(fake_central, start)
    assert answer["status"] == t.FAILURE
    assert answer["message"] == "engine unreachable"
    assert answer["command"] == t.START_CHARGING_COMMAND


def test_stop_cp_ends_the_session_refuses_starts_until_resumed(running, fake_engine,
                                                                fake_central):
    start = start_command(fake_central, "S5")
    assert answer_to(fake_central, start)["status"] == t.SUCCESS

    stop_cp = fake_central.command(t.STOP_CP_COMMAND, reason="maintenance")
    answer = answer_to(fake_central, stop_cp)
    assert answer["status"] == t.SUCCESS
    assert answer["command"] == t.STOP_CP_COMMAND
    assert answer["session_id"] == "S5"
    stop = fake_engine.wait_for(t.STOP_CHARGING_COMMAND)
    assert stop["session_id"] == "S5" and stop["reason"] == t.REASON_CP_STOPPED
    fake_central.wait_for(t.STATUS_UPDATE, where=lambda m: m["status"] == t.CP_STOPPED)
    fake_central.wait_for(t.HEARTBEAT_REQUEST, since=fake_central.mark(),
                          where=lambda m: m["status"] == t.CP_STOPPED)

    refused = start_command(fake_central, "S6")
    answer = answer_to(fake_central, refused)
    assert answer["status"] == t.FAILURE
    assert answer["message"] == "charge point stopped by operator"
    assert all(m["session_id"] != "S6" for m in fake_engine.of_type(t.START_CHARGING_COMMAND))
    # The internal stop's answer is not relayed as if Central had asked for it.
    assert not [m for m in fake_central.of_type(t.COMMAND_RESPONSE)
                if m["message_id"] == stop["message_id"]]

    fake_engine.wait_for(t.CHARGE_COMPLETION_ACK)  # the stopped session has ended
    mark = fake_central.mark()
    resume = fake_central.command(t.RESUME_CP_COMMAND)
    answer = answer_to(fake_central, resume)
    assert answer["status"] == t.SUCCESS and answer["command"] == t.RESUME_CP_COMMAND
    fake_central.wait_for(t.STATUS_UPDATE, since=mark,
                          where=lambda m: m["status"] == t.CP_AVAILABLE)
    again = start_command(fake_central, "S7")
    assert answer_to(fake_central, again)["status"] == t.SUCCESS


def test_command_for_another_cp_or_malformed_gets_an_error_response(running, fake_central):
    wrong = make(t.START_CHARGING_COMMAND, cp_id="CP9", session_id="S8", driver_id="D1",
                 price_per_kwh=0.3, max_charging_rate_kw=22.0)
    fake_central.send(wrong)
    error = fake_central.wait_for(t.ERROR_RESPONSE,
                                  where=lambda m: m["message_id"] == wrong["message_id"])
    assert "'CP9'" in error["error"] and "'CP1'" in error["error"]

    malformed = make(t.STOP_CHARGING_COMMAND, cp_id="CP1")  # no session_id
    fake_central.send(malformed)
    error = fake_central.wait_for(t.ERROR_RESPONSE,
                                  where=lambda m: m["message_id"] == malformed["message_id"])
    assert error["error"] == "stop_charging_command: missing field 'session_id'"
    # Still connected and registered: heartbeats continue on the same connection.
    mark = fake_central.mark()
    fake_central.wait_for(t.HEARTBEAT_REQUEST, since=mark)
    assert fake_central.connections == 1


def test_walk_up_request_goes_to_central_and_the_answer_back(running, fake_engine,
                                                             fake_central):
    request = make(t.LOCAL_CHARGE_REQUEST, cp_id="CP1", card_uid="04A1B2", timestamp=1700000000)
    fake_engine.send(request)
    assert fake_central.wait_for(t.LOCAL_CHARGE_REQUEST) == request
    response = make(t.LOCAL_CHARGE_RESPONSE, request["message_id"], status=t.SUCCESS,
                    message="authorised", cp_id="CP1", driver_id="D42", session_id="S9")
    fake_central.send(response)
    assert fake_engine.wait_for(t.LOCAL_CHARGE_RESPONSE) == response


def test_walk_up_request_without_central_is_refused_at_the_cp(fake_engine, start_monitor):
    start_monitor(fake_engine, f"127.0.0.1:{free_port()}")
    request = make(t.LOCAL_CHARGE_REQUEST, cp_id="CP1", driver_id="D42", timestamp=1700000000)
    fake_engine.send(request)
    answer = fake_engine.wait_for(t.LOCAL_CHARGE_RESPONSE)
    assert answer["message_id"] == request["message_id"]
    assert answer["status"] == t.FAILURE
    assert answer["message"] == "cannot reach Central (no offline authorisation list yet)"
