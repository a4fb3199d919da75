"""The Monitor's TLS and Kafka security settings: TOML keys, flags, one-line errors."""
from __future__ import annotations

import ssl
import subprocess

import pytest

from evharness.procs import bin_path
from evhost.secretfile import write_secret_file
from evmonitor import config


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    for argv in (["init"], ["client", "--name", "CP1"]):
        done = subprocess.run([bin_path("evcharge"), "pki", *argv[:1], "--dir", str(folder),
                               *argv[1:]], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    return folder


def build(tmp_path, toml: str) -> config.MonitorConfig:
    secret = write_secret_file(tmp_path / "secret", "s3cret")
    path = tmp_path / "monitor.toml"
    path.write_text(f'cp_id = "CP1"\nsecret_file = "{secret}"\nengine = "127.0.0.1:1"\n'
                    f'central = "central.test:7700"\n{toml}')
    return config.build(str(path), {}, environ={})


def test_toml_keys_make_a_verifying_context(tmp_path, ca):
    cfg = build(tmp_path, f'ca = "{ca / "ca.pem"}"\ntls_cert = "{ca / "CP1.pem"}"\n'
                          f'tls_key = "{ca / "CP1.key"}"\n')
    assert isinstance(cfg.central_tls, ssl.SSLContext)
    assert cfg.central_tls.verify_mode == ssl.CERT_REQUIRED and cfg.central_tls.check_hostname
    assert build(tmp_path, "").central_tls is None  # no ca: plaintext (loopback Centrals)


@pytest.mark.parametrize("toml, words", [
    ('ca = "/nonexistent/ca.pem"\n', "ca: /nonexistent/ca.pem does not load"),
    ('tls_cert = "X"\n', "tls_cert and tls_key go together"),
    ('tls_cert = "X"\ntls_key = "Y"\n', "tls_cert needs ca"),
    ('kafka_config = "/nonexistent/k.properties"\n', "kafka_config: cannot read"),
])
def test_bad_settings_are_one_line(tmp_path, ca, toml, words):
    with pytest.raises(config.ConfigError) as exc:
        build(tmp_path, toml)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_kafka_config_is_loaded(tmp_path):
    props = tmp_path / "k.properties"
    props.write_text("security.protocol=SASL_SSL\nsasl.password=pw\n")
    props.chmod(0o600)
    cfg = build(tmp_path, f'kafka_config = "{props}"\n')
    assert cfg.kafka_security == {"security.protocol": "SASL_SSL", "sasl.password": "pw"}
    assert "sasl.password" not in repr(cfg)  # field(repr=False): never in a log line
