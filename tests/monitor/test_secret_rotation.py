"""A rotated CP secret reaches a running Monitor (re-read at reconnect and on SIGHUP),
and a config file with a secret inline must be its owner's alone (defects 4b, 9)."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from kafka_testkit import send_session

from evharness.procs import bin_path, wait_until
from evhost.secretfile import write_secret_file
from evkafka import names
from evkafka.client import AssignedConsumer, ensure_topics
from evmonitor import config
from evmonitor.config import ConfigError
from evwire import loads
from evwire import types as t
from evwire.auth import record_verifies

INLINE = ('cp_id = "CP1"\nsecret = "inline-s3cret-value"\ncentral = "127.0.0.1:7000"\n'
          'engine = "127.0.0.1:7001"\n')


def cp_events(bootstrap: str, count: int, timeout: float = 20.0) -> list[dict]:
    """The first `count` cp-events records (decoded), waiting up to `timeout` s."""
    consumer = AssignedConsumer(bootstrap, names.namespace() + "rotation-test",
                                [names.cp_events()])
    got: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and time.monotonic() < deadline:
            got.extend(consumer.consume(500, 0.5))
    finally:
        consumer.close()
    return [loads(r.value()) for r in got]


def toml(tmp_path, text: str, mode: int):
    path = tmp_path / "monitor.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_an_inline_secret_in_a_file_others_may_read_is_refused(tmp_path, mode):
    path = toml(tmp_path, INLINE, mode)
    with pytest.raises(ConfigError) as err:
        config.build(str(path), {}, environ={})
    text = str(err.value)
    assert text == (f"config file {path} holds secret inline but may be read by others "
                    f"(mode {mode:04o}): chmod 600 {path}, or use secret_file")
    assert "inline-s3cret-value" not in text


def test_an_inline_engine_key_counts_as_a_secret_too(tmp_path):
    path = toml(tmp_path, INLINE.replace('secret = "inline-s3cret-value"\n', "")
                + 'engine_key = "0123456789abcdef0123"\n', 0o644)
    with pytest.raises(ConfigError, match="holds engine_key inline.*use engine_key_file"):
        config.build(str(path), {}, environ={"EVCHARGE_SECRET": "s"})


def test_a_private_file_or_one_naming_a_secret_file_is_accepted(tmp_path):
    cfg = config.build(str(toml(tmp_path, INLINE, 0o600)), {}, environ={})
    assert cfg.secret == "inline-s3cret-value"
    secret = write_secret_file(tmp_path / "cp.secret", "from-the-file")
    readable = INLINE.replace('secret = "inline-s3cret-value"', f'secret_file = "{secret}"')
    cfg = config.build(str(toml(tmp_path, readable, 0o644)), {}, environ={})
    assert cfg.secret == "from-the-file"


def test_the_monitor_process_refuses_it_in_one_line(tmp_path):
    path = toml(tmp_path, INLINE, 0o644)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EVCHARGE_")}
    done = subprocess.run([bin_path("evcharge"), "monitor", "--config", str(path)],
                          capture_output=True, text=True, timeout=30, env=clean)
    assert done.returncode == 5  # configuration
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "holds secret inline but may be read by others" in done.stderr
    assert "inline-s3cret-value" not in done.stderr


def test_repr_shows_no_secret(tmp_path):
    cfg = config.build(str(toml(tmp_path, INLINE + 'engine_key = "0123456789abcdef0123"\n',
                                0o600)), {}, environ={})
    text = repr(cfg)
    assert "cp_id='CP1'" in text  # it is the real repr
    assert "inline-s3cret-value" not in text and "0123456789abcdef0123" not in text


def test_reload_secret_rereads_only_a_secret_file(tmp_path):
    secret = write_secret_file(tmp_path / "cp.secret", "first")
    cfg = config.build(None, {"cp_id": "CP1", "secret_file": str(secret), "central": "h:1",
                              "engine": "e:2"}, environ={})
    assert cfg.reload_secret() is False  # unchanged
    write_secret_file(secret, "second")
    assert cfg.reload_secret() is True and cfg.secret == "second"
    secret.chmod(0o644)  # broken now: the Monitor keeps what it has
    assert cfg.reload_secret() is False and cfg.secret == "second"
    env_cfg = config.build(None, {"cp_id": "CP1", "central": "h:1", "engine": "e:2"},
                           environ={"EVCHARGE_SECRET": "from-env"})
    assert env_cfg.reload_secret() is False and env_cfg.secret == "from-env"


def test_refused_monitor_retries_with_the_rotated_secret_without_restart(
        fake_engine, fake_central, start_monitor, outbox_path):
    proc = start_monitor(fake_engine, fake_central)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    # The operator rotates: Central now wants the new secret; the file gets it too.
    fake_central.secret = "rotated-secret"
    write_secret_file(outbox_path.with_name("cp-secret"), "rotated-secret")
    mark = fake_central.mark()
    fake_central.drop_connection()
    fake_central.wait_for(t.REGISTER_REQUEST, since=mark, timeout=15)
    fake_central.wait_for(t.HEARTBEAT_REQUEST, since=mark)
    assert proc.alive()
    assert "new secret read from" in proc.log()
    assert "rotated-secret" not in proc.log()


def test_sighup_makes_kafka_records_sign_with_the_new_secret(
        fake_engine, fake_central, start_monitor, outbox_path, read_outbox, kafka_bootstrap,
        kafka_ns):
    ensure_topics(kafka_bootstrap, [names.cp_events()])
    proc = start_monitor(fake_engine, fake_central, "--kafka", kafka_bootstrap)
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    before = send_session(fake_engine, "S-old", 2)
    fake_engine.wait_for(t.CHARGE_COMPLETION_ACK)
    # Delivered (and so signed) before the rotation: the outbox is empty again.
    wait_until(lambda: read_outbox() == [], timeout=20, what="records produced")

    write_secret_file(outbox_path.with_name("cp-secret"), "rotated-secret")
    proc.popen.send_signal(signal.SIGHUP)
    wait_until(lambda: "new secret read from" in proc.log(), timeout=10, what="re-read")
    after = send_session(fake_engine, "S-new", 2)
    by_session: dict[str, list[dict]] = {}
    for msg in cp_events(kafka_bootstrap, len(before) + len(after)):
        by_session.setdefault(msg["session_id"], []).append(msg)
    assert len(by_session["S-old"]) == len(before) and len(by_session["S-new"]) == len(after)
    assert all(record_verifies(m, "s3cret") for m in by_session["S-old"])
    assert all(record_verifies(m, "rotated-secret") for m in by_session["S-new"])
    assert proc.alive()  # SIGHUP does not stop it
