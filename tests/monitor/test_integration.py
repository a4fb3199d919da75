"""The Monitor among the real programs: virtual hardware, Engine, Central, broker, Driver.

Every process is started through its console command by evharness.network
(short timers: health 0.5 s, heartbeat 0.5 s, Central's DISCONNECTED after 2 s).
"Billed once" is checked in Central's database against the virtual meter.
"""
from __future__ import annotations

import sqlite3
import subprocess
import time

import pytest

from evharness import billing, commands
from evharness.network import Network, wait_ready
from evharness.procs import bin_path, free_port, wait_until
from evharness.spec import CpSpec, NetworkSpec

FAULT_DEADLINE_S = 3.0  # the bound (the expected time here is well under 1 s)


@pytest.fixture
def net(tmp_path, procs, kafka_bootstrap, kafka_ns):
    spec = NetworkSpec(tmp_path / "net", cps=[CpSpec("CP1", location="Bay 1")],
                       drivers=["D1"], kafka=kafka_bootstrap, kafka_namespace=kafka_ns)
    network = Network(spec, group=procs)
    try:
        network.start()
        yield network
    finally:
        network.close()


def outbox_depth(net: Network) -> int:
    path = net.spec.cp_dir("CP1") / "outbox.sqlite3"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    finally:
        db.close()


def start_charging(net: Network):
    run = net.start_driver("D1", "charge", "CP1")
    run.wait_event(lambda e: e.get("event") == "progress" and e.get("energy_kwh", 0) > 0,
                   timeout=30, what="energy flowing")
    return run


def session_of(net: Network, run) -> dict:
    accepted = next(e for e in run.events() if e.get("event") == "accepted")
    return next(s for s in net.db_sessions() if s["session_id"] == accepted["session_id"])


def wait_billed_once(net: Network, meter_before: float, timeout: float = 40.0) -> dict:
    """The one finalised session, once its energy matches the meter's own register."""
    def billed():
        done = billing.finalised(net.db_sessions(), "CP1")
        return done if done else None

    done = wait_until(billed, timeout=timeout, what="session finalised at Central")
    assert len(done) == 1, done
    check = billing.meter_checks(done, {"CP1": meter_before}, {"CP1": net.meter_kwh("CP1")})[0]
    assert check.ok, check.line()
    assert not billing.cost_problems(done)
    return done[0]


def test_a_whole_session_through_the_monitor(net):
    before = net.meter_kwh("CP1")
    run = net.start_driver("D1", "charge", "CP1", "--kwh", "0.2")
    assert run.wait(60) == 0, net.proc("monitor-CP1").log()[-3000:]
    assert any(e.get("event") == "ticket" for e in run.events())
    session = wait_billed_once(net, before)
    assert session["energy_kwh"] >= 0.2
    wait_until(lambda: outbox_depth(net) == 0, timeout=10, what="outbox delivered")
    log = net.proc("monitor-CP1").log()
    assert f"session {session['session_id']} completed" in log
    assert "Traceback" not in log


def test_engine_killed_mid_session_faults_within_3_s_and_bills_once_after_restart(net):
    before = net.meter_kwh("CP1")
    run = start_charging(net)
    net.kill_engine("CP1")
    took = net.wait_state("CP1", "FAULTED", timeout=10)
    assert took < FAULT_DEADLINE_S
    run.wait_event(lambda e: e.get("event") == "faulted", timeout=10, what="driver told")
    net.start_engine("CP1")
    net.wait_state("CP1", "AVAILABLE", timeout=20)
    session = wait_billed_once(net, before)
    assert session["energy_kwh"] > 0
    assert session["session_id"] == session_of(net, run)["session_id"]


def test_monitor_killed_mid_session_is_disconnected_then_replays_without_double_billing(net):
    before = net.meter_kwh("CP1")
    run = start_charging(net)
    net.kill_monitor("CP1")
    net.wait_state("CP1", "DISCONNECTED", timeout=10)
    restarted = net.start_monitor("CP1")
    wait_until(lambda: net.cp_state("CP1") in ("CHARGING", "AVAILABLE"), timeout=20,
               what="CP back at Central")
    if net.cp_state("CP1") == "CHARGING":  # still within the Engine's grace: stop it ourselves
        assert net.driver("D1", "stop").returncode == 0
    wait_billed_once(net, before)
    run.wait_event(lambda e: e.get("event") == "ticket", timeout=30, what="ticket")
    assert "Traceback" not in restarted.log()


def test_central_down_mid_session_the_session_completes_and_is_billed_once_later(net):
    before = net.meter_kwh("CP1")
    run = start_charging(net)
    session_id = session_of(net, run)["session_id"]
    net.kill_central()
    net.sim("CP1", "unplug")  # the driver leaves while Central is down
    monitor = net.proc("monitor-CP1")
    wait_until(lambda: f"session {session_id} completed" in monitor.log(), timeout=20,
               what="completion stored by the Monitor")
    wait_until(lambda: outbox_depth(net) == 0, timeout=10, what="completion in Kafka")
    assert not billing.finalised(net.db_sessions())  # nobody has billed it yet
    net.start_central()
    session = wait_billed_once(net, before)
    assert session["session_id"] == session_id
    assert session["reason"] == "unplugged"


def test_kafka_unreachable_then_monitor_killed_then_replayed_loses_nothing(net, procs):
    before = net.meter_kwh("CP1")
    start_charging(net)
    net.stop("monitor-CP1")
    # The in-memory broker cannot be restarted with its data, so the outage is a Monitor
    # whose broker address answers nothing, replaced later by one with the real broker.
    args = commands.monitor(net.spec, "CP1", net.engine_address("CP1"), net.central_address,
                            f"127.0.0.1:{free_port()}")
    cut_off = procs.start("monitor-no-kafka", [bin_path("evcharge"), *args], env=net.env)
    wait_ready(cut_off)
    wait_until(lambda: outbox_depth(net) >= 3, timeout=15, what="samples held in the outbox")
    net.sim("CP1", "unplug")
    wait_until(lambda: "completed:" in cut_off.log(), timeout=20, what="completion stored")
    held = outbox_depth(net)
    cut_off.kill()  # SIGKILL: what it held is only on disk now
    assert held >= 4 and outbox_depth(net) == held
    assert not billing.finalised(net.db_sessions())
    net.start_monitor("CP1")
    wait_billed_once(net, before)
    wait_until(lambda: outbox_depth(net) == 0, timeout=10, what="outbox delivered")


def test_broker_restarted_mid_session_loses_nothing(net, restartable_broker):
    before = net.meter_kwh("CP1")
    start_charging(net)
    restartable_broker.stop()
    try:
        time.sleep(3)  # samples pile up in the outbox meanwhile
        net.sim("CP1", "unplug")
        wait_until(lambda: "completed:" in net.proc("monitor-CP1").log(), timeout=20,
                   what="completion stored")
    finally:
        restartable_broker.start()  # also hands the broker back to other workers' tests
    wait_billed_once(net, before, timeout=90)


def admin(net: Network, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path("evcharge"), "admin", "--central", net.central_address,
                           "--admin-token-file", str(net.spec.admin_token_file), *args],
                          capture_output=True, text=True, timeout=30)


def test_admin_stop_and_resume_end_to_end(net):
    before = net.meter_kwh("CP1")
    run = start_charging(net)
    stopped = admin(net, "stop", "CP1")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    net.wait_state("CP1", "STOPPED", timeout=10)
    session = wait_billed_once(net, before)
    # The Monitor asks with reason cp_stopped and the Engine's ticket says so.
    assert session["reason"] == "cp_stopped"
    run.wait_event(lambda e: e.get("event") == "ticket", timeout=30, what="ticket")

    refused = net.driver("D1", "charge", "CP1", "--kwh", "0.1", timeout=60)
    assert refused.returncode == 4, refused.stdout + refused.stderr  # refused by Central
    # The reason once (no "stopped by the operator: stopped by the operator").
    assert "out of service (stopped by the operator)" in refused.stderr, refused.stderr
    resumed = admin(net, "resume", "CP1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    net.wait_state("CP1", "AVAILABLE", timeout=10)
    log = net.proc("monitor-CP1").log()
    assert "operator stop" in log and "operator resume" in log
