"""--kafka-config files (evkafka.properties) and how evkafka.client applies them:
parsing, what is refused with one line, secrets kept out of logs and argv."""
from __future__ import annotations

import subprocess

import pytest

from evharness.procs import bin_path
from evkafka import client, properties

GOOD = """# the cluster's SASL_SSL listener
security.protocol=SASL_SSL
sasl.mechanism = SCRAM-SHA-256
sasl.username=central
sasl.password=pa=ss#word
! another comment style
ssl.ca.location=/etc/evcharge/kafka-ca.pem
"""


def write(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "kafka.properties"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_parses_key_value_lines(tmp_path):
    props = properties.load(write(tmp_path, GOOD))
    assert props == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-256",
                     "sasl.username": "central", "sasl.password": "pa=ss#word",
                     "ssl.ca.location": "/etc/evcharge/kafka-ca.pem"}
    assert "pa=ss" not in properties.describe(props) and "sasl.password=***" in \
        properties.describe(props)


@pytest.mark.parametrize("text, words", [
    ("security.protocol\n", "line 1: expected key=value"),
    ("acks=0\n", "'acks' is not a connection-security setting"),
    ("bootstrap.servers=evil:9092\n", "not a connection-security setting"),
    ("sasl.username=a\nsasl.username=b\n", "line 2: 'sasl.username' given twice"),
    ("sasl.username=\n", "has no value"),
    ("security.protocol=TLS\n", "security.protocol must be one of"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, words):
    with pytest.raises(properties.KafkaConfigError) as exc:
        properties.load(write(tmp_path, text))
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_a_password_file_readable_by_others_is_refused(tmp_path):
    path = write(tmp_path, GOOD, 0o644)
    with pytest.raises(properties.KafkaConfigError, match="chmod 600"):
        properties.load(path)
    # Without a password, a shared file is fine (e.g. only the CA location).
    assert properties.load(write(tmp_path, "security.protocol=SSL\n", 0o644))


def test_every_client_config_carries_the_security_settings(tmp_path):
    client.use_security(properties.load(write(tmp_path, GOOD)))
    try:
        for conf in (client.producer_config("b:1"), client.consumer_config("b:1", "g"),
                     client.admin_config("b:1")):
            assert conf["security.protocol"] == "SASL_SSL"
            assert conf["sasl.password"] == "pa=ss#word"
        # evkafka's own guarantees are not the file's to change
        assert client.producer_config("b:1")["acks"] == "all"
    finally:
        client.use_security({})
    assert "security.protocol" not in client.producer_config("b:1")


@pytest.mark.parametrize("tier", [
    ["central", "--listen", "127.0.0.1:0", "--db", "DB"],
    ["driver", "--id", "D1", "--central", "127.0.0.1:1", "list"],
    ["monitor", "--cp-id", "CP1", "--central", "127.0.0.1:1", "--engine", "127.0.0.1:2",
     "--secret-file", "SECRET"],
])
def test_every_tier_refuses_a_bad_kafka_config_with_one_line(tmp_path, tier):
    bad = write(tmp_path, GOOD, 0o644)
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    argv = [a.replace("DB", str(tmp_path / "c.db")).replace("SECRET", str(secret))
            for a in tier]
    done = subprocess.run([bin_path("evcharge"), *argv, "--kafka-config", bad],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "EVCHARGE_DRIVER_SECRET": "x" * 16,
                               "HOME": str(tmp_path)})
    text = (done.stderr + done.stdout).strip()
    assert done.returncode == 5, text  # configuration (evhost.cliout)
    assert "chmod 600" in text and len(text.splitlines()) == 1 and "pa=ss" not in text, text
