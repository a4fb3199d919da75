"""Kill matrix 5: the Kafka broker dies mid-session and comes back (nothing lost).

Needs a broker that keeps its log on disk: the Apache Kafka of
tools/apache-kafka.sh (EVCHARGE_TEST_KAFKA, as CI runs it). The local broker
keeps its log in memory, so killing it loses every record by design: there
the `restartable_broker` fixture skips this case and says why.
"""
import time

import pytest
from e2ekit import assert_billed_once, session_id_of, wait_charging, wait_finalised

from evharness.procs import wait_until
from evkafka import apache as apache_kafka


@pytest.fixture
def broker_control(kafka_bootstrap, request):
    """evkafka.apache's stop/start for the Apache Kafka broker; skip on the local one."""
    if not apache_kafka.controls(kafka_bootstrap):
        pytest.skip("the local broker (Tansu) keeps its log in memory, so killing it loses "
                    "every record by design: this case runs against Apache Kafka "
                    "(tools/apache-kafka.sh + EVCHARGE_TEST_KAFKA, as .ci/run does)")
    return request.getfixturevalue("restartable_broker")


def test_broker_killed_mid_session_and_restarted_nothing_lost(broker_control, make_network):
    net = make_network()
    meter_before = net.meter_kwh("CP1")
    run = net.start_driver("D1", "--reconnect-grace", "300", "charge", "CP1")
    session_id = session_id_of(run)
    wait_charging(run)

    broker_control.kill()
    time.sleep(2.0)  # telemetry piles up in the Monitor's outbox meanwhile
    assert net.cp_state("CP1") == "CHARGING"  # heartbeats go by TCP, not Kafka
    net.sim("CP1", "unplug")  # the completion is born while the broker is down
    wait_until(lambda: not net.sim("CP1", "status")["relay_closed"], timeout=20,
               what="the Engine ending the session")
    broker_control.start()

    session = wait_finalised(net, session_id, timeout=180)
    assert session["reason"] == "unplugged"
    assert run.wait(180) == 0, run.proc.log()
    assert_billed_once(net, "CP1", meter_before, run.events())
    net.wait_state("CP1", "AVAILABLE")
