"""The driver against the real Central process (with fake Monitors producing
telemetry to the real broker as Engines would)."""
from __future__ import annotations

from driver_testkit import SilentPeer, json_lines, tickets_in, wait_for_ticket_record

from evharness.procs import free_port, wait_until


def test_list_charge_to_the_end_and_history(real_network):
    net = real_network("CP1", "CP2", car_kwh=0.3)
    listed = net.driver("D1", "list")
    assert listed.returncode == 0, listed.stderr
    assert "CP1 street" in listed.stdout and "AVAILABLE" in listed.stdout

    charged = net.driver("D1", "charge", "CP1")
    assert charged.returncode == 0, charged.stderr
    out = charged.stdout
    assert tickets_in(out) == 1
    assert "energy        0.300 kWh" in out and "cost          0.09 EUR" in out
    assert "reason        the car is full" in out

    history = net.driver("D1", "--json", "history")
    assert history.returncode == 0, history.stderr
    sessions = json_lines(history.stdout)[-1]["sessions"]
    assert [(s["cp_id"], s["status"], s["energy_consumed_kwh"], s["total_cost"])
            for s in sessions] == [("CP1", "completed", 0.3, 0.09)]


def test_kwh_target_busy_and_unknown(real_network):
    net = real_network("CP1", car_kwh=5)
    first = net.start_driver("D1", "--json", "charge", "CP1", "--kwh", "1.5")
    wait_until(lambda: '"progress"' in first.log(), timeout=20, what="live data")
    busy = net.driver("D2", "charge", "CP1")
    assert busy.returncode == 4 and "CP1: refused:" in busy.stderr
    unknown = net.driver("D2", "charge", "CPX")
    assert unknown.returncode == 4 and "CPX: refused:" in unknown.stderr
    assert first.popen.wait(30) == 0, first.log()
    events = json_lines("\n".join(line for line in first.log().splitlines()
                                  if line.startswith("{")))
    ticket = [e for e in events if e.get("event") == "ticket"]
    assert len(ticket) == 1 and ticket[0]["reason"] == "stopped"
    assert 1.5 <= ticket[0]["energy_kwh"] < 5


def test_stop_command_and_kafka_fallback(real_network):
    net = real_network("CP1", car_kwh=50)
    charging = net.start_driver("D1", "charge", "CP1")
    wait_until(lambda: " kWh " in charging.log(), timeout=20, what="live data")
    stop = net.driver("D1", "stop")
    assert stop.returncode == 0, stop.stderr
    assert charging.popen.wait(30) == 0
    assert tickets_in(charging.log()) == 1 and "stopped on request" in charging.log()

    silent = SilentPeer()  # Central's socket silent (not refused): requests go by Kafka
    try:
        listed = net.driver("D1", "list", "--timeout", "2", central=silent.address)
    finally:
        silent.close()
    assert listed.returncode == 0, listed.stderr
    assert "Central's socket is unreachable: using Kafka" in listed.stdout
    assert "CP1 street" in listed.stdout

    closed = f"127.0.0.1:{free_port()}"  # refused: no Central there, said at once
    refused = net.driver("D1", "list", central=closed)
    assert refused.returncode == 3
    assert refused.stderr == (f"evcharge driver: error: cannot reach Central at {closed} "
                              "(Connection refused)\n")


def test_killed_driver_gets_its_ticket_once_from_central(real_network):
    net = real_network("CP1", car_kwh=1.0)
    first = net.start_driver("D1", "charge", "CP1")
    wait_until(lambda: " kWh " in first.log(), timeout=20, what="live data")
    first.kill()
    wait_for_ticket_record(net.kafka, "D1")  # the session completed without its driver
    again = net.driver("D1", "list")
    assert again.stdout.startswith("while you were away:\n---- ticket"), again.stdout
    assert tickets_in(again.stdout) == 1
    assert tickets_in(net.driver("D1", "list").stdout) == 0



def test_several_centrals_the_driver_uses_the_one_that_answers(real_network):
    """--central A,B: a Central that is down (refused) or silent is passed over at once
    for the next; all down: `cannot reach Central` naming each, exit 3."""
    net = real_network("CP1")
    dead = f"127.0.0.1:{free_port()}"
    listed = net.driver("D1", "list", central=f"{dead},{net.central}")
    assert listed.returncode == 0, listed.stderr
    assert "CP1 street" in listed.stdout
    silent = SilentPeer()
    try:
        listed = net.driver("D1", "list", "--timeout", "2",
                            central=f"{silent.address},{net.central}")
    finally:
        silent.close()
    assert listed.returncode == 0, listed.stderr
    assert "Kafka" not in listed.stderr  # the second Central answered: no fallback needed
    other = f"127.0.0.1:{free_port()}"
    down = net.driver("D1", "list", central=f"{dead},{other}")
    assert down.returncode == 3, down.stderr
    assert dead in down.stderr and other in down.stderr
