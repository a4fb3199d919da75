"""Socket first, Kafka as fallback; tickets reach a driver that was not running,
exactly once; connection loss mid-session ends with exit 3 (unreachable)."""
from __future__ import annotations

import json
import time

from driver_testkit import SilentPeer, json_lines, tickets_in, wait_for_ticket_record

from evharness.procs import free_port, wait_until

USING_KAFKA = "Central's socket is unreachable: using Kafka"


def test_socket_silent_requests_go_by_kafka(network):
    # A socket that accepts and never answers: the driver waits --timeout, then Kafka.
    net = network("--silent-socket", "--car-kwh", "0.2", "--busy", "CP9")
    # Each path gets --timeout: long enough for the Kafka round trip on a loaded machine.
    quick = ("--timeout", "5")
    listed = net.driver("D1", "list", *quick)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == USING_KAFKA
    assert "CP9" in listed.stdout and "CHARGING" in listed.stdout

    charged = net.driver("D1", "charge", "CP1", *quick)
    assert charged.returncode == 0, charged.stderr
    assert USING_KAFKA in charged.stdout
    assert tickets_in(charged.stdout) == 1 and "reason        the car is full" in charged.stdout

    refused = net.driver("D1", "charge", "CP9", *quick)
    assert refused.returncode == 4
    assert "CP9: refused: charge point CP9 is busy" in refused.stderr

    history = net.driver("D1", "--json", "history", *quick)
    assert history.returncode == 0, history.stderr
    sessions = json_lines(history.stdout)[-1]["sessions"]
    assert [s["cp_id"] for s in sessions] == ["CP1"]


def test_central_down_is_said_at_once_though_kafka_is_up(network, procs):
    net = network("--car-kwh", "0.2")
    procs.procs[0].kill()  # the fake Central: its port now refuses connections
    for command in (["list"], ["history"], ["charge", "CP1"], ["--json", "stop"]):
        began = time.monotonic()
        result = net.driver("D1", *command)  # --timeout 8: refused must not wait for it
        took = time.monotonic() - began
        assert result.returncode == 3, (command, result.stderr)
        assert result.stderr == (f"evcharge driver: error: cannot reach Central at "
                                 f"{net.central} (Connection refused)\n"), command
        assert took < 4, f"{command}: {took:.1f} s"  # a process start, no timeout


def test_a_silent_central_takes_the_timeout_then_exit_3(network, procs):
    net = network("--car-kwh", "0.2")
    procs.procs[0].kill()  # nobody answers on Kafka either
    silent = SilentPeer()
    try:
        began = time.monotonic()
        result = net.driver("D1", "--timeout", "2", "list", central=silent.address)
        took = time.monotonic() - began
    finally:
        silent.close()
    assert result.returncode == 3
    line = result.stderr.strip()
    assert line.startswith("evcharge driver: error: Central did not answer within 2 s"), line
    assert "did not answer on Kafka within 2 s" in line
    assert took >= 2


def test_restarted_driver_shows_the_ticket_first_and_only_once(network):
    net = network("--car-kwh", "1.0")
    first = net.start_driver("D1", "charge", "CP1")
    wait_until(lambda: "kWh" in first.log(), timeout=20, what="live data")
    first.kill()
    state = net.state_dir / "driver-D1.json"
    assert not state.exists() or json.loads(state.read_text())["tickets_shown"] == []
    wait_for_ticket_record(net.kafka, "D1")  # the session ended without its driver
    again = net.driver("D1", "list")
    assert again.returncode == 0, again.stderr
    out = again.stdout
    assert out.startswith("while you were away:\n---- ticket")
    assert tickets_in(out) == 1 and "reason        the car is full" in out
    assert out.index("---- ticket") < out.index("LOCATION")
    third = net.driver("D1", "list")
    assert tickets_in(third.stdout) == 0 and "while you were away" not in third.stdout


def test_committed_offsets_alone_prevent_a_repeat(network):
    """Two guards: the consumer group's offsets, and the state file; either suffices."""
    net = network("--car-kwh", "0.2")
    done = net.driver("D1", "charge", "CP1")
    assert tickets_in(done.stdout) == 1
    (net.state_dir / "driver-D1.json").unlink()  # forget the shown tickets
    again = net.driver("D1", "list")
    assert again.returncode == 0, again.stderr
    assert tickets_in(again.stdout) == 0


def test_central_killed_mid_session_gives_exit_3(network, procs):
    net = network("--car-kwh", "50")
    proc = net.start_driver("D1", "--reconnect-grace", "2", "charge", "CP1")
    wait_until(lambda: "kWh" in proc.log(), timeout=20, what="live data")
    procs.procs[0].kill()  # the fake Central (and its charging) die together
    assert proc.popen.wait(30) == 3  # Central unreachable (evhost.cliout)
    log = proc.log()
    assert "connection lost: cannot reach Central at" in log
    assert "evcharge driver: error: connection lost for 2 s with no news of the session" in log
    assert "Traceback" not in log



def test_kafka_down_list_still_works_but_charge_asks_for_nothing(network):
    net = network()
    net.kafka = f"127.0.0.1:{free_port()}"  # the driver's view: no broker there
    listed = net.driver("D1", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(f"Kafka at {net.kafka} is unreachable: tickets of "
                                    "sessions that ended while you were away are shown "
                                    "next time")
    assert "CP1" in listed.stdout
    charge = net.driver("D1", "charge", "CP1")
    assert charge.returncode == 3
    assert charge.stderr.strip() == (f"evcharge driver: error: Kafka at {net.kafka} is "
                                     "unreachable: a session cannot be followed without it "
                                     "(nothing was requested)")
    central_log = net.procs.procs[0].log()
    assert "enter available_cps_request" in central_log  # its trace lines are there (list)...
    assert "enter charge_request" not in central_log  # ...and no charge was asked for
