"""Regression (chaos `--seed 2024 --case 1`, `--seed 434192 --case 3`): a broker that
restarts without its state (the local broker keeps producer ids in memory) answers the
Monitor's idempotent producer with fencing or sequence errors that no retry of the same
producer can clear. The Monitor must notice, start a new producer and resend what the
outbox holds, in order; and say so in a line or two, not one warning per record."""
from __future__ import annotations

import pytest
from kafka_testkit import consume, send_session, unsigned

from evharness.local_broker import RestartableLocalBroker
from evharness.procs import wait_until
from evkafka import names
from evkafka.client import make_producer
from evwire import dumps
from evwire import types as t


@pytest.fixture
def restarting_broker(tmp_path, kafka_ns):
    broker = RestartableLocalBroker(tmp_path / "broker.log", [names.cp_events()])
    yield broker
    broker.kill()


def test_chaos_seed_2024_case_1_restarted_broker_gets_the_outbox_from_a_new_producer(
        fake_engine, fake_central, start_monitor, restarting_broker, read_outbox):
    broker = restarting_broker
    proc = start_monitor(fake_engine, fake_central, "--kafka", broker.bootstrap)
    first = send_session(fake_engine, "S1", 5)
    assert [unsigned(r) for r in consume(broker.bootstrap, len(first))] == \
        [dumps(m) for m in first]
    wait_until(lambda: read_outbox() == [], timeout=10, what="outbox emptied")

    broker.restart()  # same address, no memory of the producer's id or sequence numbers
    mark = len(proc.log())
    second = send_session(fake_engine, "S2", 40)
    fake_engine.wait_for(t.CHARGE_COMPLETION_ACK,
                         where=lambda m: m["message_id"] == second[-1]["message_id"])

    wait_until(lambda: read_outbox() == [], timeout=60,
               what="the outbox emptied into the restarted broker")
    got = [unsigned(r) for r in consume(broker.bootstrap, len(second), timeout=20)]
    wanted = [dumps(m) for m in second]
    # Every record arrived, in order; a record resent by the new producer may come twice
    # (Central absorbs duplicates by message_id), never out of order.
    assert [g for i, g in enumerate(got) if g not in got[:i]] == wanted
    assert proc.alive()
    refused = proc.log()[mark:].count("Kafka refused")
    assert refused <= 3, proc.log()[mark:][-3000:]


def test_chaos_seed_790365_case_43_no_record_is_dropped_as_another_producers_duplicate(
        fake_engine, fake_central, start_monitor, restarting_broker, read_outbox):
    """The restarted broker hands out producer ids from 1 again: another producer (here
    the test's, first on the new broker) gets the id the Monitor's producer had. Records
    the Monitor then sent with that id and low sequence numbers were taken for that
    producer's duplicates: reported delivered, deleted from the outbox, never stored."""
    broker = restarting_broker
    proc = start_monitor(fake_engine, fake_central, "--kafka", broker.bootstrap)
    first = send_session(fake_engine, "S1", 5)  # the Monitor's producer: id 1, sequences 0-5
    assert len(consume(broker.bootstrap, len(first))) == len(first)
    wait_until(lambda: read_outbox() == [], timeout=10, what="outbox emptied")

    broker.restart()
    other = make_producer(broker.bootstrap, client_id="another-monitor")
    for n in range(50):  # same key, so the same partition: sequences 0-49 of its id
        other.produce(names.cp_events(), key=b"CP1", value=b"another producer's %d" % n)
    assert other.flush(20) == 0

    second = send_session(fake_engine, "S2", 5)
    wait_until(lambda: read_outbox() == [], timeout=30, what="outbox emptied")
    records = consume(broker.bootstrap, 50 + len(second), timeout=20)
    ours = [unsigned(r) for r in records if not r.value().startswith(b"another producer")]
    assert ours == [dumps(m) for m in second], f"{len(ours)} of {len(second)} stored"
    assert "producer replaced (the broker went away" in proc.log()
