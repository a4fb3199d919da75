"""The Monitor and Central: handshake, heartbeats, reconnects (real Monitor, fake Central)."""
from __future__ import annotations

from conftest import FakeCentral
from evharness.procs import free_port, wait_until
from evwire import types as t
from evwire.auth import auth_mac


def test_auth_then_register_then_status_then_heartbeats(fake_engine, fake_central,
                                                         start_monitor):
    start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST, since=0)
    wait_until(lambda: len(fake_central.of_type(t.HEARTBEAT_REQUEST)) >= 3, timeout=10,
               what="three heartbeats")
    kinds = [m["type"] for m in fake_central.received]
    assert kinds[:3] == [t.AUTH_REQUEST, t.REGISTER_REQUEST, t.STATUS_UPDATE]

    auth = fake_central.received[0]
    assert auth["cp_id"] == "CP1"
    assert auth["mac"] == auth_mac("s3cret", "CP1", auth["timestamp"], auth["nonce"])
    register = fake_central.received[1]
    assert register["location"] == "Test bay 1"
    assert register["max_charging_rate_kw"] == 22.0
    assert fake_central.received[2]["status"] == t.CP_AVAILABLE
    beats = fake_central.of_type(t.HEARTBEAT_REQUEST)
    assert all(b["status"] == t.CP_AVAILABLE and b["cp_id"] == "CP1" for b in beats)
    assert len({b["message_id"] for b in beats}) == len(beats)


def test_auth_refused_is_logged_and_retried_until_the_secret_is_fixed(fake_engine,
                                                                       fake_central,
                                                                       start_monitor):
    fake_central.secret = "the operator's new secret"
    proc = start_monitor(fake_engine, fake_central)
    wait_until(lambda: len(fake_central.of_type(t.AUTH_REQUEST)) >= 2, timeout=10,
               what="a second auth attempt")
    assert not fake_central.of_type(t.REGISTER_REQUEST)
    wait_until(lambda: "authentication refused by Central" in proc.log(), timeout=5)
    assert "check the secret of CP1" in proc.log()
    assert "retrying in" in proc.log()

    fake_central.secret = "s3cret"  # the operator fixed Central's side
    fake_central.wait_for(t.REGISTER_REQUEST, timeout=10)
    fake_central.wait_for(t.HEARTBEAT_REQUEST, timeout=10)


def test_unreachable_central_gives_a_clear_line_then_connects_when_it_appears(
        fake_engine, start_monitor, peers):
    port = free_port()
    proc = start_monitor(fake_engine, f"127.0.0.1:{port}")
    wait_until(lambda: f"cannot connect to Central at 127.0.0.1:{port}" in proc.log(),
               timeout=10)
    line = next(x for x in proc.log().splitlines() if "cannot connect to Central" in x)
    assert "retrying in" in line and line.rstrip().endswith(" s")
    assert "Traceback" not in proc.log()

    central = peers("central", port)
    central.wait_for(t.REGISTER_REQUEST, timeout=10)
    central.wait_for(t.HEARTBEAT_REQUEST, timeout=10)


def test_after_a_lost_connection_it_reauthenticates_reregisters_and_resends_status(
        fake_engine, fake_central, start_monitor):
    start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    mark = fake_central.mark()
    fake_central.drop_connection()
    fake_central.wait_connected(count=2)
    fake_central.wait_for(t.HEARTBEAT_REQUEST, since=mark)
    kinds = [m["type"] for m in fake_central.received[mark:]]
    assert kinds[:3] == [t.AUTH_REQUEST, t.REGISTER_REQUEST, t.STATUS_UPDATE]


def test_central_that_stops_answering_is_reconnected(fake_engine, fake_central, start_monitor):
    proc = start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    fake_central.answer_heartbeats = False
    wait_until(lambda: "silent for" in proc.log(), timeout=15, what="silence detected")
    fake_central.answer_heartbeats = True
    fake_central.wait_connected(count=2)


def test_register_response_stopped_is_adopted(fake_engine, fake_central, start_monitor):
    fake_central.register_cp_status = t.CP_STOPPED
    start_monitor(fake_engine, fake_central)
    update = fake_central.wait_for(t.STATUS_UPDATE)
    assert update["status"] == t.CP_STOPPED
    beat = fake_central.wait_for(t.HEARTBEAT_REQUEST)
    assert beat["status"] == t.CP_STOPPED

    start = fake_central.command(t.START_CHARGING_COMMAND, session_id="S1", driver_id="D1",
                                 price_per_kwh=0.3, max_charging_rate_kw=22.0)
    answer = fake_central.wait_for(t.COMMAND_RESPONSE,
                                   where=lambda m: m["message_id"] == start["message_id"])
    assert answer["status"] == t.FAILURE
    assert answer["message"] == "charge point stopped by operator"
    assert not fake_engine.of_type(t.START_CHARGING_COMMAND)


def test_several_centrals_the_monitor_fails_over_to_the_next(fake_engine, start_monitor):
    """central = "A,B": the first that answers, and the next one when it goes away."""
    first, second = FakeCentral(), FakeCentral()
    try:
        dead = f"127.0.0.1:{free_port()}"  # nobody listens: skipped after one refusal
        proc = start_monitor(fake_engine, f"{dead},{first.address},{second.address}")
        first.wait_for(t.REGISTER_REQUEST, timeout=15)
        assert "retrying at " + first.address in proc.log()
        first.close()  # the first Central dies: the link moves on to the second
        second.wait_for(t.REGISTER_REQUEST, timeout=15)
        second.wait_for(t.HEARTBEAT_REQUEST, timeout=10)
        wait_until(lambda: f"registered with Central at {second.address}" in proc.log(),
                   timeout=10, what="registered with the second Central")
        assert proc.alive()
    finally:
        first.close()
        second.close()
