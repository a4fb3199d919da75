"""Limits for strangers (docs/SECURITY.md): an unauthenticated connection is closed after
--auth-timeout however it trickles, one address holds at most
--max-connections-per-address connections, and wrong admin tokens slow down."""
from __future__ import annotations

import socket
import threading
import time

from central_testkit import ADMIN_TOKEN, WireClient

from evwire import encode_frame, make
from evwire import types as t
from evwire.auth import make_auth_request


def trickle(client: WireClient, data: bytes, interval: float, stop: threading.Event) -> None:
    """Send data one byte every interval seconds until stop or the socket fails."""
    for i in range(len(data)):
        if stop.wait(interval):
            return
        try:
            client.send_raw(data[i:i + 1])
        except OSError:
            return


def test_a_connection_trickling_one_byte_a_second_is_closed_after_the_auth_timeout(
        central_factory):
    central = central_factory("CP1", args=("--auth-timeout", "2"))
    honest = central.monitor("CP1").beat()  # authenticated: the timeout is not for it
    stranger = central.client()
    opened = time.monotonic()
    stop = threading.Event()
    frame = encode_frame(make_auth_request("CP1", central.secrets["CP1"]))  # never finished
    sender = threading.Thread(target=trickle, args=(stranger, frame, 1.0, stop), daemon=True)
    sender.start()
    try:
        assert stranger.wait_closed(timeout=6), "the stranger was never closed"
        took = time.monotonic() - opened
        assert 1.9 <= took < 4.0, took
        told = stranger.recv_type(t.ERROR_RESPONSE, timeout=1)
        assert told["code"] == "auth_timeout" and "not authenticated within 2 s" in told["error"]
        # The authenticated Monitor, connected for longer than that, is still served.
        honest.stop_beating()
        honest.ignore_types.clear()
        assert not honest.eof and honest.heartbeat()["status"] == t.SUCCESS
        assert "not authenticated within 2 s" in central.log()
    finally:
        stop.set()
        stranger.close()
        honest.close()


def test_an_admin_connection_proves_itself_with_the_token_and_stays(central_factory):
    central = central_factory("CP1", args=("--auth-timeout", "1"))
    admin = central.client()
    try:
        reply = admin.request(make(t.MANUAL_COMMAND, command="list_cps", token=ADMIN_TOKEN))
        assert reply["status"] == t.SUCCESS
        time.sleep(2.0)  # past the auth timeout: an authenticated connection stays
        reply = admin.request(make(t.MANUAL_COMMAND, command="list_cps", token=ADMIN_TOKEN))
        assert reply["status"] == t.SUCCESS and not admin.eof
    finally:
        admin.close()


def refused_at_once(central) -> dict:
    client = central.client()
    try:
        assert client.wait_closed(timeout=5), "a connection over the cap stayed open"
        return client.recv_type(t.ERROR_RESPONSE, timeout=1)
    finally:
        client.close()


def answers(client: WireClient) -> bool:
    reply = client.request(make(t.MANUAL_COMMAND, command="list_cps", token=ADMIN_TOKEN))
    return reply["status"] == t.SUCCESS


def test_an_address_over_the_cap_is_refused(central_factory):
    central = central_factory("CP1", args=("--max-connections-per-address", "3",
                                           "--cap-loopback"))
    held = [central.client() for _ in range(3)]
    try:
        assert all(answers(c) for c in held)
        refusal = refused_at_once(central)
        assert refusal["code"] == "too_many_connections"
        assert "too many connections from 127.0.0.1 (limit 3)" in refusal["error"]
        held.pop().close()  # a slot frees up once Central sees the close
        deadline = time.monotonic() + 5
        while True:
            newcomer = central.client()
            if not newcomer.wait_closed(timeout=0.3):
                break
            newcomer.close()
            assert time.monotonic() < deadline, "the freed slot was never given back"
        held.append(newcomer)
        assert answers(newcomer)
    finally:
        for c in held:
            c.close()


def test_loopback_is_not_capped_by_default(central_factory):
    central = central_factory("CP1", args=("--max-connections-per-address", "2"))
    held = [central.client() for _ in range(5)]
    try:
        assert all(answers(c) for c in held)
    finally:
        for c in held:
            c.close()


def test_wrong_admin_tokens_slow_down_and_the_right_one_still_works(central):
    guesser = central.client()
    took = []
    try:
        for i in range(8):
            started = time.monotonic()
            reply = guesser.request(make(t.MANUAL_COMMAND, command="list_cps",
                                         token=f"guess-{i}"), timeout=15)
            took.append(time.monotonic() - started)
            assert reply["status"] == t.FAILURE and reply["reason"] == "bad_token"
        # Five free failures, then 0.25 s, 0.5 s, 1 s before each answer.
        assert max(took[:5]) < 0.2, took
        assert took[5] >= 0.2 and took[6] >= 0.45 and took[7] >= 0.9, took
        # The next attempt from this address waits too, right token or not.
        started = time.monotonic()
        reply = guesser.request(make(t.MANUAL_COMMAND, command="list_cps", token=ADMIN_TOKEN),
                                timeout=15)
        assert reply["status"] == t.SUCCESS and time.monotonic() - started >= 1.9
        # One proven admin connection is not slowed any more.
        started = time.monotonic()
        assert answers(guesser) and time.monotonic() - started < 0.5
    finally:
        guesser.close()
    audit = central.admin("audit", limit=20)["data"]
    refusals = [e for e in audit if e["result"] == "failure (bad_token)"]
    assert len(refusals) == 8 and all(e["address"] == "127.0.0.1" for e in refusals)


def test_the_admin_token_is_compared_as_bytes_whatever_its_type(central):
    # Empty, longer, shorter or one character off: each refused like any wrong token.
    for token in ("", "x" * 200, ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]):
        reply = central.admin("list_cps", token=token or "-")
        assert reply["status"] == t.FAILURE and reply["reason"] == "bad_token", token


def test_a_raw_socket_that_never_sends_is_closed_too(central_factory):
    central = central_factory("CP1", args=("--auth-timeout", "1"))
    sock = socket.create_connection((central.host, central.port), timeout=5)
    try:
        sock.settimeout(5)
        opened = time.monotonic()
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert 0.9 <= time.monotonic() - opened < 4.0
        assert b"auth_timeout" in data
    finally:
        sock.close()


def test_an_admin_slowed_by_a_guesser_still_gets_an_answer_past_the_auth_timeout(
        central_factory):
    central = central_factory("CP1", args=("--auth-timeout", "1"))
    for i in range(8):  # someone guessing: the "admin" key now delays every attempt 2 s
        assert central.admin("list_cps", token=f"guess-{i}")["reason"] == "bad_token"
    operator = central.client()
    try:
        started = time.monotonic()
        reply = operator.request(make(t.MANUAL_COMMAND, command="list_cps", token=ADMIN_TOKEN),
                                 timeout=15)
        assert reply["status"] == t.SUCCESS, reply
        assert time.monotonic() - started >= 1.9  # waited longer than the auth timeout
        time.sleep(1.0)
        assert answers(operator) and not operator.eof  # authenticated: it stays
    finally:
        operator.close()
    guesser = central.client()
    try:  # a guess past the deadline gets its answer, then the connection is closed
        reply = guesser.request(make(t.MANUAL_COMMAND, command="list_cps", token="guess-9"),
                                timeout=15)
        assert reply["reason"] == "bad_token"
        assert guesser.wait_closed(timeout=3)
    finally:
        guesser.close()
