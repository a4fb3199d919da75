"""Station logic in-process: the completion ack only after the outbox commit."""
from __future__ import annotations

import sqlite3

import pytest

from evmonitor import config
from evmonitor.engine_handlers import EngineHandlers
from evmonitor.framed import WireMessage
from evmonitor.outbox import Outbox
from evmonitor.station import Station
from evwire import dumps, make
from evwire import types as t


class Recorder:
    def __init__(self, on_send=None):
        self.sent: list[dict] = []
        self.on_send = on_send

    def send(self, msg: dict) -> bool:
        if self.on_send:
            self.on_send(msg)
        self.sent.append(msg)
        return True


class NoHealth:
    def health_answered(self, message_id: str) -> None:
        pass


def wire(msg: dict) -> WireMessage:
    wrapped = WireMessage(msg)
    wrapped.payload = dumps(msg)
    return wrapped


@pytest.fixture
def setup(tmp_path):
    cfg = config.build(None, {"cp_id": "CP1", "secret": "s", "central": "h:1",
                              "engine": "h:2", "outbox": str(tmp_path / "o.db")}, environ={})
    outbox = Outbox(cfg.outbox)
    station = Station(cfg, outbox)
    return cfg, outbox, station


def completion() -> dict:
    return make(t.CHARGE_COMPLETION, cp_id="CP1", session_id="S1", energy_consumed_kwh=2.5,
                total_cost=0.75, reason="stopped")


def test_the_ack_is_sent_after_the_completion_is_committed(setup):
    cfg, outbox, station = setup
    seen_at_ack = []

    def check_disk(msg):
        # A separate connection sees only committed data.
        db = sqlite3.connect(cfg.outbox)
        seen_at_ack.append(db.execute("SELECT message_id FROM outbox").fetchall())
        db.close()

    station.engine = Recorder(on_send=check_disk)
    station.central = Recorder()
    done = completion()
    EngineHandlers(station, NoHealth()).charge_completion(wire(done))
    (ack,) = station.engine.sent
    assert ack["type"] == t.CHARGE_COMPLETION_ACK
    assert ack["message_id"] == done["message_id"] and ack["session_id"] == "S1"
    assert seen_at_ack == [[(done["message_id"],)]]


def test_no_ack_when_the_outbox_write_fails(setup, mocker):
    _cfg, outbox, station = setup
    station.engine = Recorder()
    station.central = Recorder()
    # A full disk cannot be provoked portably in a test: make SQLite report it, for the
    # row's INSERT only (failing every statement would fail the PRAGMA before it, and
    # the test would no longer be about the write).
    real = outbox._db

    def execute(sql: str, *args):
        if sql.startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full")
        return real.execute(sql, *args)

    db = mocker.patch.object(outbox, "_db", wraps=real)
    db.execute.side_effect = execute
    done = completion()
    handlers = EngineHandlers(station, NoHealth())
    handlers.charge_completion(wire(done))
    assert station.engine.sent == []  # the Engine keeps the completion and re-sends it
    inserts = [c.args for c in db.execute.call_args_list if c.args[0].startswith("INSERT")]
    assert [args[1][0] for args in inserts] == [done["message_id"]]  # the write was tried
    assert outbox.counts() == {}
    mocker.stopall()  # room on the disk again: the Engine's re-send is stored, then acked
    handlers.charge_completion(wire(done))
    (ack,) = station.engine.sent
    assert ack["type"] == t.CHARGE_COMPLETION_ACK and ack["message_id"] == done["message_id"]
    assert outbox.counts() == {t.CHARGE_COMPLETION: 1}


def test_a_session_learned_from_charging_data_shows_as_charging(setup):
    _cfg, _outbox, station = setup
    station.engine = Recorder()
    station.central = Recorder()
    station.cp.engine_ok()
    sample = make(t.CHARGING_DATA, cp_id="CP1", session_id="S9", energy_consumed_kwh=0.5,
                  total_cost=0.15, charging_rate=11.0, timestamp=1700000000)
    EngineHandlers(station, NoHealth()).charging_data(wire(sample))
    assert station.cp.status == t.CP_CHARGING
    assert station.cp.session.energy_kwh == 0.5
    assert station.central.sent[-1]["status"] == t.CP_CHARGING
