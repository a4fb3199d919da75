"""Socket first, Kafka as fallback; tickets reach a driver that was not running,
exactly once; connection loss mid-session ends with exit 4."""
from __future__ import annotations

import json

from driver_testkit import json_lines, tickets_in, wait_for_ticket_record

from evharness.procs import free_port, wait_until

USING_KAFKA = "Central's socket is unreachable: using Kafka"


def test_socket_down_requests_go_by_kafka(network):
    net = network("--no-socket", "--car-kwh", "0.2", "--busy", "CP9")
    closed = f"127.0.0.1:{free_port()}"
    listed = net.driver("D1", "list", central=closed)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == USING_KAFKA
    assert "CP9" in listed.stdout and "CHARGING" in listed.stdout

    charged = net.driver("D1", "charge", "CP1", central=closed)
    assert charged.returncode == 0, charged.stderr
    assert USING_KAFKA in charged.stdout
    assert tickets_in(charged.stdout) == 1 and "reason        the car is full" in charged.stdout

    refused = net.driver("D1", "charge", "CP9", central=closed)
    assert refused.returncode == 1
    assert "CP9: refused: charge point CP9 is busy" in refused.stderr

    history = net.driver("D1", "--json", "history", central=closed)
    assert history.returncode == 0, history.stderr
    sessions = json_lines(history.stdout)[-1]["sessions"]
    assert [s["cp_id"] for s in sessions] == ["CP1"]


def test_kafka_up_but_central_silent_is_exit_3(network, procs, kafka_bootstrap):
    net = network("--car-kwh", "0.2")
    procs.procs[0].kill()  # the fake Central: nobody answers on either path now
    result = net.driver("D1", "--timeout", "2", "list")
    assert result.returncode == 3
    assert "did not answer on Kafka within 2 s" in result.stderr
    assert "Traceback" not in result.stderr


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


def test_central_killed_mid_session_gives_exit_4(network, procs):
    net = network("--car-kwh", "50")
    proc = net.start_driver("D1", "--reconnect-grace", "2", "charge", "CP1")
    wait_until(lambda: "kWh" in proc.log(), timeout=20, what="live data")
    procs.procs[0].kill()  # the fake Central (and its charging) die together
    assert proc.popen.wait(30) == 4
    log = proc.log()
    assert "connection lost: cannot connect to Central at" in log
    assert "evcharge driver: connection lost for 2 s with no news of the session" in log
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
    assert charge.stderr.strip() == (f"evcharge driver: Kafka at {net.kafka} is unreachable: "
                                     "a session cannot be followed without it (nothing was "
                                     "requested)")
    assert "enter charge_request" not in net.procs.procs[0].log()  # the fake Central's
