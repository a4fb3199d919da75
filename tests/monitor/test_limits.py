"""The site's limit at the Monitor: forwarded at once, renewed only while Central answers."""
from __future__ import annotations

import time

import pytest

from evmonitor import config
from evmonitor.central_handlers import CentralHandlers
from evmonitor.outbox import Outbox
from evmonitor.station import Station
from evwire import make, make_timestamped
from evwire import types as t
from evwire.errors import RejectedError


class Recorder:
    def __init__(self):
        self.sent: list[dict] = []

    def send(self, msg: dict) -> bool:
        self.sent.append(msg)
        return True


class Link:
    def heartbeat_answered(self, msg: dict) -> None:
        pass

    def handshake_answer(self, msg: dict) -> bool:
        return False


@pytest.fixture
def station(tmp_path):
    cfg = config.build(None, {"cp_id": "CP1", "secret": "s", "central": "h:1",
                              "engine": "h:2", "outbox": str(tmp_path / "o.db")}, environ={})
    station = Station(cfg, Outbox(cfg.outbox))
    station.engine, station.central = Recorder(), Recorder()
    return station


def limit(kw: float, hold_s: float = 9.0, cp_id: str = "CP1") -> dict:
    return make_timestamped(t.SET_CHARGING_LIMIT, cp_id=cp_id, limit_kw=kw, hold_s=hold_s,
                            site_id="S")


def test_central_limit_goes_to_the_engine_and_its_answer_back(station):
    handlers = CentralHandlers(station, Link())
    msg = limit(7.3)
    assert handlers.set_charging_limit(msg) is None
    assert station.engine.sent == [msg]
    station.command_answered(make(t.COMMAND_RESPONSE, msg["message_id"], status=t.SUCCESS,
                                  message="ok", session_id=None, cp_id="CP1",
                                  command=t.SET_CHARGING_LIMIT))
    (relayed,) = [m for m in station.central.sent if m["type"] == t.COMMAND_RESPONSE]
    assert relayed["command"] == t.SET_CHARGING_LIMIT and relayed["status"] == t.SUCCESS
    with pytest.raises(RejectedError):
        handlers.set_charging_limit(limit(7.3, cp_id="CP2"))


def test_renewed_while_central_answers_then_not(station):
    relay = station.limits
    station.set_charging_limit(limit(7.3, hold_s=9.0))
    assert relay.renew_s == 3.0  # a third of hold_s (at most 5 s)
    now = time.monotonic()
    relay.tick(now + 1)
    assert len(station.engine.sent) == 1  # not due yet
    relay.last_beat = now + 3
    relay.tick(now + 3.1)
    renewal = station.engine.sent[-1]
    assert len(station.engine.sent) == 2 and renewal["limit_kw"] == 7.3
    assert renewal["hold_s"] == 9.0
    assert renewal["message_id"] != station.engine.sent[0]["message_id"]
    # The Engine's confirmation of a renewal is Central's business no more.
    station.command_answered(make(t.COMMAND_RESPONSE, renewal["message_id"], status=t.SUCCESS,
                                  message="ok", session_id=None, cp_id="CP1",
                                  command=t.SET_CHARGING_LIMIT))
    assert [m for m in station.central.sent if m["type"] == t.COMMAND_RESPONSE] == []
    # Central silent: no renewal, however long, so the Engine's hold runs out.
    relay.tick(now + 3.1 + relay.fresh_s + 10)
    assert len(station.engine.sent) == 2


def test_heartbeat_limit_repairs_a_lost_message(station):
    handlers = CentralHandlers(station, Link())
    handlers.heartbeat_response(make(t.HEARTBEAT_RESPONSE, "hb1", status=t.SUCCESS,
                                     limit_kw=11.0))
    (sent,) = station.engine.sent
    assert sent["type"] == t.SET_CHARGING_LIMIT and sent["limit_kw"] == 11.0
    handlers.heartbeat_response(make(t.HEARTBEAT_RESPONSE, "hb2", status=t.SUCCESS,
                                     limit_kw=11.0))
    assert len(station.engine.sent) == 1  # unchanged: the renewal timer handles it
