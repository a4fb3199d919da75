"""Telemetry: Engine -> outbox -> Kafka (the real broker), deleted only once delivered."""
from __future__ import annotations

import pytest
from kafka_testkit import consume, send_session, unsigned

from evharness.procs import free_port, wait_until
from evkafka import names
from evkafka.client import ensure_topics
from evwire import dumps
from evwire import types as t


@pytest.fixture
def topic(kafka_bootstrap, kafka_ns):
    ensure_topics(kafka_bootstrap, [names.cp_events()])
    return names.cp_events()


def test_records_reach_kafka_unchanged_keyed_by_cp_and_leave_the_outbox(
        fake_engine, fake_central, start_monitor, kafka_bootstrap, topic, read_outbox):
    start_monitor(fake_engine, fake_central, "--kafka", kafka_bootstrap)
    msgs = send_session(fake_engine, "S1", 20)
    ack = fake_engine.wait_for(t.CHARGE_COMPLETION_ACK)
    assert ack["message_id"] == msgs[-1]["message_id"]
    records = consume(kafka_bootstrap, len(msgs))
    # the Engine's bytes, in order, each signed
    assert [unsigned(r) for r in records] == [dumps(m) for m in msgs]
    assert {r.key() for r in records} == {b"CP1"}
    assert {r.partition() for r in records} == {records[0].partition()}
    wait_until(lambda: read_outbox() == [], timeout=10, what="outbox emptied")


def test_broker_unreachable_then_reachable_loses_nothing_and_keeps_order(
        fake_engine, fake_central, start_monitor, kafka_bootstrap, topic, read_outbox):
    # The in-memory broker cannot survive its own restart, so the outage is a Monitor
    # pointed at an address where no broker answers, then at the real one.
    proc = start_monitor(fake_engine, fake_central, "--kafka", f"127.0.0.1:{free_port()}",
                         "--shutdown-flush", "0.5")
    msgs = send_session(fake_engine, "S1", 15)
    fake_engine.wait_for(t.CHARGE_COMPLETION_ACK)  # acked: stored on disk, not delivered
    assert [r[1] for r in read_outbox()] == [m["message_id"] for m in msgs]
    assert proc.terminate() == 0
    assert "16 records kept in the outbox" in proc.log()

    start_monitor(fake_engine, fake_central, "--kafka", kafka_bootstrap)
    records = consume(kafka_bootstrap, len(msgs))
    assert [unsigned(r) for r in records] == [dumps(m) for m in msgs]
    wait_until(lambda: read_outbox() == [], timeout=10, what="outbox emptied")


def test_monitor_killed_mid_session_replays_its_outbox_at_restart(
        fake_engine, fake_central, start_monitor, kafka_bootstrap, topic, read_outbox):
    proc = start_monitor(fake_engine, fake_central, "--kafka", f"127.0.0.1:{free_port()}")
    first = [fake_engine.charging_data("S1", n) for n in range(1, 11)]
    for msg in first:
        fake_engine.send(msg)
    wait_until(lambda: len(read_outbox()) == 10, timeout=10, what="10 rows stored")
    proc.kill()  # SIGKILL: no clean-up at all

    restarted = start_monitor(fake_engine, fake_central, "--kafka", kafka_bootstrap)
    assert "holds 10 records from before" in restarted.log()
    done = fake_engine.completion("S1")  # the session ends after the restart
    fake_engine.send(done)
    fake_engine.wait_for(t.CHARGE_COMPLETION_ACK)
    records = consume(kafka_bootstrap, 11)
    values = [unsigned(r) for r in records]
    assert values == [dumps(m) for m in [*first, done]]  # replayed first, then the new record
    wait_until(lambda: read_outbox() == [], timeout=10, what="outbox emptied")


def test_a_long_outage_thins_samples_but_never_a_completion(
        fake_engine, fake_central, start_monitor, kafka_bootstrap, topic, read_outbox):
    proc = start_monitor(fake_engine, fake_central, "--kafka", f"127.0.0.1:{free_port()}",
                         "--outbox-bound", "40", "--kafka-in-flight", "5",
                         "--shutdown-flush", "0.2")
    old = send_session(fake_engine, "S-old", 30)
    fake_engine.wait_for(t.CHARGE_COMPLETION_ACK)
    msgs = send_session(fake_engine, "S-new", 100)
    fake_engine.wait_for(t.CHARGE_COMPLETION_ACK,
                         where=lambda m: m["session_id"] == "S-new")
    wait_until(lambda: len(read_outbox()) < 70, timeout=10, what="thinning")
    assert proc.terminate() == 0
    kept = [r[1] for r in read_outbox()]
    assert old[-1]["message_id"] in kept and msgs[-1]["message_id"] in kept
    assert msgs[-2]["message_id"] in kept  # the newest sample of a session stays

    start_monitor(fake_engine, fake_central, "--kafka", kafka_bootstrap)
    records = consume(kafka_bootstrap, len(kept))
    assert [unsigned(r) for r in records] == [p for _k, _m, p in in_rows(kept, old + msgs)]


def in_rows(kept_ids: list[str], sent: list[dict]) -> list[tuple]:
    by_id = {m["message_id"]: m for m in sent}
    return [(by_id[i]["type"], i, dumps(by_id[i])) for i in kept_ids]
