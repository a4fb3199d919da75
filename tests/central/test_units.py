"""In-process checks of Central's parts that need no network: secrets at rest, the
database's exactly-once finalisation, the local broker helper."""
from __future__ import annotations

import os
import signal

import pytest

from evcentral import app
from evcentral.config import Config
from evcentral.db import Database
from evcentral.secrets_box import SecretBox, SecretBoxError
from evcentral.session_store import Session, SessionStore
from evcentral.sessions import progress_percent
from evharness.procs import free_port, port_open, wait_until
from evkafka import local
from evkafka.local import ensure_local_broker
from evwire import trace


def test_secret_box_round_trip_and_tamper_detection(tmp_path):
    box = SecretBox.for_database(tmp_path / "c.db")
    blob = box.encrypt("päss-wörd")
    assert b"p\xc3\xa4ss" not in blob
    assert box.decrypt(blob) == "päss-wörd"
    assert box.encrypt("same") != box.encrypt("same")  # fresh nonce every time
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SecretBoxError):
        box.decrypt(tampered)
    other = SecretBox(os.urandom(32))
    with pytest.raises(SecretBoxError, match="key file"):
        other.decrypt(blob)
    assert SecretBox.for_database(tmp_path / "c.db").decrypt(blob) == "päss-wörd"


def test_nonces_are_single_use_and_pruned(tmp_path):
    db = Database(tmp_path / "c.db")
    assert db.use_nonce("a" * 32, "CP1", 240)
    assert not db.use_nonce("a" * 32, "CP1", 240)
    db.conn.execute("UPDATE nonces SET seen_at = seen_at - 1000")
    assert db.use_nonce("b" * 32, "CP1", 240)  # prunes the old one
    assert db.conn.execute("SELECT COUNT(*) FROM nonces").fetchone()[0] == 1
    db.close()


def test_finalise_happens_once(tmp_path):
    db = Database(tmp_path / "c.db")
    store = SessionStore(db)
    live = Session("S1", "R1", "CP1", "D1", "socket", "active", 0.3, 11.0, 100, 100)
    store.create(live)
    final = Session(**{**live.__dict__, "status": "completed", "energy_kwh": 5.0, "cost": 1.5,
                       "finalised": True, "ended_at": 200})
    assert store.finalise(final, b"ticket", "M1", "charge_completion")
    assert not store.finalise(final, b"ticket", "M1", "charge_completion")  # same message
    other = Session(**{**final.__dict__, "energy_kwh": 9.0})
    assert not store.finalise(other, b"other", "M2", "charge_completion")  # other message
    row = store.get("S1")
    assert row.energy_kwh == 5.0 and row.finalised and store.ticket("S1") == b"ticket"
    assert [s.session_id for s in store.unsent_tickets()] == ["S1"]
    store.mark_ticket_sent("S1")
    assert store.unsent_tickets() == []
    db.close()


def test_progress_is_percent_of_fifty_kwh():
    assert progress_percent(0) == 0
    assert progress_percent(12.5) == 25
    assert progress_percent(80) == 100


def test_ensure_local_broker_starts_a_detached_broker_once(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    started = ensure_local_broker(address, log_path=str(tmp_path / "broker.log"))
    try:
        assert started.started and started.pid
        assert os.getpgid(started.pid) != os.getpgid(0)  # its own session: survives us
        again = ensure_local_broker(address)
        assert not again.started and again.address == address
    finally:
        os.kill(started.pid, signal.SIGKILL)
    host, port = address.split(":")
    wait_until(lambda: not port_open(host, int(port)), what="broker gone")


def test_central_without_kafka_uses_or_starts_the_local_broker(tmp_path, monkeypatch):
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setattr(app, "DEFAULT_LOCAL_BROKER", address)
    monkeypatch.setattr(local, "default_log_path", lambda _address: str(tmp_path / "b.log"))
    lines: list[str] = []
    trace.configure(sink=lines.append)
    try:
        config = Config(host="127.0.0.1", port=0, db_path=str(tmp_path / "c.db"))
        assert app.choose_broker(config) == address
        started = next(line for line in lines if "started a local broker" in line)
        pid = int(started.split("(pid ")[1].split(",")[0])
        try:
            assert app.choose_broker(config) == address  # found running: not started twice
            assert "already running" in lines[-1]
            assert app.choose_broker(Config("127.0.0.1", 0, "x.db", kafka="k:9")) == "k:9"
        finally:
            os.kill(pid, signal.SIGKILL)
    finally:
        trace.configure(sink=None)


def test_ensure_local_broker_rejects_a_bad_address():
    with pytest.raises(ValueError):
        ensure_local_broker("no-port-here")
