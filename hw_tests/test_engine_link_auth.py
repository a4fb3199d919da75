"""The Monitor link's handshake (evwire.link_auth), with real Engine processes on
virtual hardware: a stranger hears only `unauthenticated` and the relay stays
open; a wrong key is refused; a peer that has not authenticated cannot displace
the Monitor that has; an Engine without a key listens on loopback only; start
commands with absurd prices or limits are refused."""
from __future__ import annotations

import os
import socket
import subprocess

import pytest

import evwire
from evengine.probe import MonitorProbe, ProbeTimeout, PtyMonitor
from evharness.engine import RUNTIMES, start_engine, wait_ready, write_link_key
from evharness.procs import bin_path, free_port, wait_until
from evharness.sim import start_sim
from evwire import link_auth

TICK = "0.3"
KEY = "6b" * 32  # 64 hex characters, as the harness makes them
WRONG = "77" * 32


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    return request.param


def keyed_engine(procs, tmp_path, runtime, *extra, sim_args=("--time-scale", "30")):
    sim = start_sim(procs, tmp_path, *sim_args)
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", TICK,
                          "--link-auth-timeout", "1", *extra, link_key=KEY)
    return sim, engine


def refused(probe: MonitorProbe) -> dict:
    """The error_response that refused the probe; the Engine then closes the connection."""
    error = probe.wait_type("error_response")
    assert error["code"] == "unauthenticated", error
    wait_until(lambda: probe.collect(0.1) == [] and probe.closed_by_peer, timeout=5,
               what="the Engine closing the refused connection")
    return error


def stranger(engine) -> MonitorProbe:
    return engine.probe(link_key=None, heartbeat=None)


def test_a_stranger_gets_unauthenticated_and_the_relay_stays_open(procs, tmp_path, runtime):
    sim, engine = keyed_engine(procs, tmp_path, runtime)
    assert "(link key required)" in engine.log()
    for attempt in (
        evwire.make("start_charging_command", cp_id="CP1", session_id="S1", driver_id="D1",
                    price_per_kwh=0.3, max_charging_rate_kw=11.0),
        evwire.make("health_check_request", id="CP1"),
        evwire.make("link_auth", mac="00" * 32),  # no link_hello first
    ):
        probe = stranger(engine)
        sent = probe.send(attempt)
        error = refused(probe)
        assert error["message_id"] == sent["message_id"] and "not authenticated" in error["error"]
        assert not any(m.get("type") == "command_response" for m in probe.seen)
    probe = stranger(engine)
    probe.send_raw(b"\x00\x05garbage\x00")  # line noise before the handshake: refused too
    refused(probe)
    assert sim.status()["relay_closed"] is False
    monitor = engine.probe()  # the real key still works afterwards
    assert monitor.health()["session_id"] is None
    assert sim.status()["relay_closed"] is False


def test_a_peer_with_the_wrong_key_is_refused(procs, tmp_path):
    _sim, engine = keyed_engine(procs, tmp_path, "micropython")
    # The Monitor checks the Engine's proof first: a wrong key shows there.
    probe = stranger(engine)
    with pytest.raises(ProbeTimeout, match="does not hold the link key"):
        probe.authenticate(WRONG)
    # A peer that goes on anyway with a MAC made from its (wrong) key is refused.
    probe = stranger(engine)
    nonce = link_auth.new_nonce()
    challenge = probe.reply_to(probe.send(evwire.make("link_hello", cp_id="CP1", nonce=nonce)))
    assert challenge["type"] == "link_challenge" and link_auth.nonce_ok(challenge["nonce"])
    probe.send(evwire.make("link_auth", mac=link_auth.monitor_mac(
        WRONG, "CP1", challenge["nonce"], nonce)))
    assert "wrong link key" in refused(probe)["error"]
    # Replaying a right MAC of another connection fails: the Engine's nonce is fresh.
    good = engine.probe(link_key=None, heartbeat=None)
    first = good.reply_to(good.send(evwire.make("link_hello", cp_id="CP1", nonce=nonce)))
    replay = stranger(engine)
    second = replay.reply_to(replay.send(evwire.make("link_hello", cp_id="CP1", nonce=nonce)))
    assert first["nonce"] != second["nonce"]
    replay.send(evwire.make("link_auth", mac=link_auth.monitor_mac(
        KEY, "CP1", first["nonce"], nonce)))
    refused(replay)
    # A hello for another charge point, or with a short nonce, is refused.
    for hello in (dict(cp_id="CP2", nonce=nonce), dict(cp_id="CP1", nonce="abc")):
        probe = stranger(engine)
        probe.send(evwire.make("link_hello", **hello))
        refused(probe)
    assert "wrong link key" in engine.log()


def test_the_right_key_charges_and_a_second_unauthenticated_peer_cannot_displace_it(
        procs, tmp_path, runtime):
    sim, engine = keyed_engine(procs, tmp_path, runtime)
    monitor = engine.probe()
    assert monitor.start("S1")["status"] == "success"
    wait_until(lambda: sim.status()["relay_closed"], timeout=5, what="the relay closing")
    intruder = stranger(engine)
    intruder.send(evwire.make("stop_charging_command", cp_id="CP1", session_id="S1"))
    refused(intruder)
    silent = stranger(engine)  # connects, says nothing: closed after --link-auth-timeout
    wait_until(lambda: silent.collect(0.1) == [] and silent.closed_by_peer, timeout=5,
               what="the silent peer being closed")
    assert "did not authenticate within 1000 ms" in engine.log()
    monitor.collect(0.5)
    assert not monitor.closed_by_peer
    assert monitor.wait_type("charging_data")["session_id"] == "S1"
    assert monitor.health()["is_charging"] is True and sim.status()["relay_closed"] is True
    # An authenticated newcomer (the Monitor restarted) does take over, session intact.
    second = engine.probe()
    assert second.health()["session_id"] == "S1"
    monitor.collect(0.5)
    assert monitor.closed_by_peer
    assert second.stop("S1")["status"] == "success"


def test_pending_peers_from_one_address_are_bounded_to_one(procs, tmp_path):
    _sim, engine = keyed_engine(procs, tmp_path, "cpython")
    monitor = engine.probe()
    socks = [socket.create_connection(("127.0.0.1", engine.port), timeout=2) for _ in range(5)]
    try:
        # All from 127.0.0.1: each newer pending peer replaces the older one from the
        # same address, so the first four are closed at once.
        for sock in socks[:4]:
            assert sock.recv(16) == b""
        assert monitor.health()["engine_status"] == "OK"
    finally:
        for sock in socks:
            sock.close()
    assert engine.log().count("replaced by") >= 4


def test_an_engine_without_a_key_listens_on_loopback_only(procs, tmp_path):
    args = ["--cp-id", "CP1", "--meter", str(tmp_path / "no-bus"), "--menu", "off",
            "--state-dir", str(tmp_path / "state")]
    done = subprocess.run([bin_path("evcharge"), "engine", "--listen", f"0.0.0.0:{free_port()}",
                           *args], capture_output=True, text=True, timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("evcharge engine: error: ") and "link key" in lines[0]
    loose = tmp_path / "loose-key"
    write_link_key(loose, KEY)
    os.chmod(loose, 0o644)
    done = subprocess.run([bin_path("evcharge"), "engine", "--listen", f"0.0.0.0:{free_port()}",
                           "--link-key-file", str(loose), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 5 and "chmod 600" in done.stderr and KEY not in done.stderr
    # With a key, any address is allowed; the key is not in argv, and the config
    # file that holds it is private.
    sim = start_sim(procs, tmp_path)
    engine = start_engine(procs, tmp_path / "state", sim.link, "micropython", port=free_port(),
                          link_key=KEY)
    assert KEY not in " ".join(engine.proc.popen.args)
    assert os.stat(tmp_path / "state" / "config.json").st_mode & 0o077 == 0
    assert engine.probe().health()["engine_status"] == "OK"


@pytest.mark.parametrize("field,value", [
    ("price_per_kwh", -0.3), ("price_per_kwh", 1e9), ("price_per_kwh", float("inf")),
    ("max_charging_rate_kw", -11.0), ("max_charging_rate_kw", 1e7),
    ("max_charging_rate_kw", 0), ("connection_timeout_s", -1), ("connection_timeout_s", 1e12),
])
def test_absurd_prices_and_limits_are_refused(procs, tmp_path, field, value):
    sim, engine = keyed_engine(procs, tmp_path, "micropython")
    monitor = engine.probe()
    command = evwire.make("start_charging_command", cp_id="CP1", session_id="S1",
                          driver_id="D1", price_per_kwh=0.3, max_charging_rate_kw=11.0)
    command[field] = value
    reply = monitor.reply_to(monitor.send(command))
    assert reply["status"] == "failure" and field in reply["error"], reply
    assert sim.status()["relay_closed"] is False
    assert monitor.health()["session_id"] is None


def test_serial_link_with_a_key_authenticates_too(procs, tmp_path):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    key_file = tmp_path / "link-key"
    write_link_key(key_file, KEY)
    monitor = PtyMonitor()
    try:
        proc = procs.evcharge("engine", [
            "engine", "--cp-id", "CP1", "--serial-link", monitor.device, "--meter",
            str(sim.link), "--state-dir", str(tmp_path / "state"), "--runtime", "micropython",
            "--tick", TICK, "--menu", "off", "--link-key-file", str(key_file)])
        wait_ready(proc, mark="ready serial link on")
        error = monitor.request(evwire.make("health_check_request", id="CP1"))
        assert error["type"] == "error_response" and error["code"] == "unauthenticated"
        nonce = link_auth.new_nonce()
        challenge = monitor.request(evwire.make("link_hello", cp_id="CP1", nonce=nonce))
        assert link_auth.mac_ok(challenge["mac"], link_auth.engine_mac(
            KEY, "CP1", nonce, challenge["nonce"]))
        ok = monitor.request(evwire.make("link_auth", mac=link_auth.monitor_mac(
            KEY, "CP1", challenge["nonce"], nonce)))
        assert ok["type"] == "link_auth_response" and ok["status"] == "success"
        health = monitor.request(evwire.make("health_check_request", id="CP1"))
        assert health["type"] == "health_check_response"
        assert "Monitor authenticated on" in proc.log()
    finally:
        monitor.close()
    assert sim.status()["relay_closed"] is False
