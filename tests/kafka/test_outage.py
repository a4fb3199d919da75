"""The broker going away and coming back (Apache Kafka only: Tansu keeps no data).

`restartable_broker` skips, with its reason in the summary, unless the tests run
against the broker of tools/apache-kafka.sh (EVCHARGE_TEST_KAFKA).
"""
from __future__ import annotations

import time

import evwire
from evkafka import client, names


def test_producer_survives_a_broker_outage(kafka_bootstrap, topics, produce, collect, seqs,
                                           restartable_broker):
    produce(names.cp_events(), "CP1", range(3))
    producer = client.make_producer(kafka_bootstrap, client_id="outage-test")
    delivered: list[int] = []
    errors: list[str] = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append(evwire.loads(msg.value())["seq"])

    producer.produce(names.cp_events(), key=b"CP1", value=evwire.dumps({"seq": 3}),
                     on_delivery=on_delivery)
    assert producer.flush(20) == 0  # the producer is connected and idempotent before the outage

    # Central keeps its consumer open across an outage: it must go on by itself.
    survivor = client.AssignedConsumer(kafka_bootstrap, names.central_group(),
                                       [names.cp_events()])
    assert seqs(collect(survivor, 4)) == [0, 1, 2, 3]

    restartable_broker.stop()
    for seq in range(4, 9):
        producer.produce(names.cp_events(), key=b"CP1", value=evwire.dumps({"seq": seq}),
                         on_delivery=on_delivery)
    producer.poll(1.0)
    assert delivered == [3]  # nothing can be acknowledged while the broker is down
    assert restartable_broker.start() == kafka_bootstrap

    assert producer.flush(60) == 0
    assert errors == []
    assert delivered == [3, 4, 5, 6, 7, 8]
    try:
        # Exactly once and in order: idempotence drops the retried duplicates.
        assert seqs(collect(survivor, 5, timeout=30, settle=1.0)) == [4, 5, 6, 7, 8]
    finally:
        survivor.close()
    fresh = client.AssignedConsumer(kafka_bootstrap, names.driver_group("D9"), [names.cp_events()])
    try:
        assert seqs(collect(fresh, 9, settle=1.0)) == list(range(9))
    finally:
        fresh.close()


def test_records_and_offsets_survive_a_broker_crash(kafka_bootstrap, topics, produce, collect,
                                                    seqs, restartable_broker):
    produce(names.cp_events(), "CP2", range(10))
    group, topic = names.central_group(), [names.cp_events()]
    consumer = client.AssignedConsumer(kafka_bootstrap, group, topic)
    try:
        records = collect(consumer, 10)
        consumer.commit(records[3])
    finally:
        consumer.close()

    restartable_broker.kill()
    started = time.monotonic()
    restartable_broker.start()
    client.wait_broker(kafka_bootstrap, timeout=30)
    print(f"broker back {time.monotonic() - started:.1f}s after SIGKILL")

    resumed = client.AssignedConsumer(kafka_bootstrap, group, topic)
    try:
        assert seqs(collect(resumed, 6, settle=1.0)) == [4, 5, 6, 7, 8, 9]
    finally:
        resumed.close()
