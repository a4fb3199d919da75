"""Kafka over SASL_SSL (SCRAM-SHA-256): a real Central process with --kafka-config and
evkafka's own producer and consumer, against the Apache Kafka broker of
tools/apache-kafka.sh (its SASL_SSL listener; .ci/run exports
EVCHARGE_TEST_KAFKA_SASL="sasl_bootstrap=HOST:PORT config=FILE").

Locally without that broker these tests skip; under CI=true they fail instead.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from evharness.procs import wait_until
from evkafka import client, properties
from evwire import make
from evwire import types as t
from evwire.compat import unix_time

sys.path.insert(0, str(Path(__file__).parents[1] / "central"))
from central_testkit import CentralUnderTest, KafkaTap  # noqa: E402

ENV_SASL = "EVCHARGE_TEST_KAFKA_SASL"


@pytest.fixture
def sasl() -> tuple[str, str]:
    """(bootstrap, --kafka-config file) of the SASL_SSL listener."""
    value = os.environ.get(ENV_SASL, "")
    if not value:
        reason = (f"${ENV_SASL} is not set: start tools/apache-kafka.sh and export its "
                  "sasl_bootstrap=HOST:PORT config=FILE")
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must run the SASL_SSL test)")
        pytest.skip(reason)
    fields = dict(part.split("=", 1) for part in value.split() if "=" in part)
    bootstrap = fields.get("sasl_bootstrap") or value.split()[0]
    config = fields.get("config", "")
    assert bootstrap and Path(config).is_file(), f"${ENV_SASL}={value!r}"
    return bootstrap, config


@pytest.fixture
def secured(sasl):
    """This test process's evkafka clients use the SASL_SSL settings (reset after)."""
    client.use_security(properties.load(sasl[1]))
    yield sasl
    client.use_security({})


def test_central_over_sasl_ssl(secured, procs, tmp_path, kafka_ns):
    bootstrap, config = secured
    password = properties.load(config)["sasl.password"]
    central = CentralUnderTest(procs, tmp_path, bootstrap, "--kafka-config", config)
    central.provision("CP1")
    central.add_driver("D1")
    central.start()
    wait_until(lambda: "kafka ready" in central.log(), timeout=30, what="Central on SASL_SSL")
    tap = KafkaTap(bootstrap)  # evkafka producer and consumer, SASL_SSL too
    try:
        asked = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D1",
                                        timestamp=unix_time()))
        key, answer = tap.wait_for(lambda k, m: m.get("message_id") == asked["message_id"],
                                   timeout=30)[0]
        assert key == "D1" and any(cp["cp_id"] == "CP1" for cp in answer["charging_points"]), answer
    finally:
        tap.close()
    assert password not in central.log()


def test_wrong_password_is_refused(sasl, procs, tmp_path, kafka_ns):
    bootstrap, config = sasl
    props = properties.load(config)
    props["sasl.password"] = "not-" + props["sasl.password"]
    wrong = tmp_path / "wrong.properties"
    wrong.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    wrong.chmod(0o600)
    client.use_security(properties.load(str(wrong)))
    try:
        with pytest.raises(client.KafkaUnavailable):
            client.wait_broker(bootstrap, timeout=5)
    finally:
        client.use_security({})
    central = CentralUnderTest(procs, tmp_path, bootstrap, "--kafka-config", str(wrong),
                               "--kafka-timeout", "3")
    central.provision("CP1")
    central.start()  # it serves its port anyway, and keeps trying Kafka
    wait_until(lambda: "serving anyway" in central.log(), timeout=30,
               what="Central saying Kafka refused it")
    assert "kafka ready" not in central.log()
    assert "Authentication failed" in central.log() or "SASL" in central.log()
    assert props["sasl.password"] not in central.log()
