"""Regression (chaos `--seed 2024 --case 1`, `--seed 434192 --case 3`): the broker
restarts without its state (the local broker keeps producer ids in memory). Central's
idempotent producer can no longer deliver: librdkafka either fails it for good or
retries an unknown producer id forever without a report. Central must replace the
producer and go on delivering tickets; before the fix its delivery thread died (or
waited forever) and no ticket left Central again."""
from __future__ import annotations

import pytest
from central_testkit import CentralUnderTest, KafkaTap, charge_request, completion

from evharness.local_broker import RestartableLocalBroker
from evharness.procs import wait_until
from evkafka import names
from evwire import types as t


@pytest.fixture
def broker(tmp_path, kafka_ns):
    local = RestartableLocalBroker(tmp_path / "broker.log", names.all_topics())
    yield local
    local.kill()


def charge_and_complete(central, mon, driver, tap: KafkaTap, kwh: float) -> dict:
    reply = driver.request(charge_request("CP1", "D1"))
    assert reply["status"] == t.SUCCESS, reply
    command = mon.recv_type(t.START_CHARGING_COMMAND, timeout=10)
    mon.answer(command)
    mon.status, mon.session_id = t.CP_CHARGING, command["session_id"]
    session_id = reply["session_id"]
    tap.cp_event(completion("CP1", session_id, "D1", kwh))
    ticket = tap.wait_for(lambda k, m: m["type"] == t.CHARGE_COMPLETION
                          and m["session_id"] == session_id, timeout=60)[0][1]
    mon.status, mon.session_id = t.CP_AVAILABLE, None
    wait_until(lambda: central.cp_status("CP1") == t.CP_AVAILABLE, timeout=15,
               what="CP1 free again")
    return ticket


def test_chaos_seed_2024_case_1_central_delivers_tickets_after_a_stateless_broker_restart(
        procs, tmp_path, broker):
    central = CentralUnderTest(procs, tmp_path, broker.bootstrap).provision("CP1").start()
    mon = central.monitor("CP1").beat()
    driver = central.driver("D1")
    tap = KafkaTap(broker.bootstrap)
    try:
        assert charge_and_complete(central, mon, driver, tap, 2.0)["energy_consumed_kwh"] == 2.0
    finally:
        tap.close()

    broker.restart()
    tap = KafkaTap(broker.bootstrap)  # the test's own clients start afresh too
    try:
        ticket = charge_and_complete(central, mon, driver, tap, 3.0)
    finally:
        tap.close()
    assert ticket["energy_consumed_kwh"] == 3.0 and ticket["total_cost"] == 0.9
    assert "producer replaced" in central.log()
    assert central.proc.alive()
    mon.close()
    driver.close()
