"""The offline authorisation list and walk-ups without Central, in-process (the Station
with recorders for its Engine and Central links): pages, persistence (0600, atomic,
survives a restart), every entry validated, listed cards started offline at the list's
price, unlisted ones and a missing list refused, the records of an offline session
marked before the outbox, Central's late answer dropped after an offline decision."""
from __future__ import annotations

import asyncio
import json
import os
import stat

import pytest

from evmonitor import config
from evmonitor.auth_list import MAX_ENTRIES, AuthList
from evmonitor.central_handlers import CentralHandlers
from evmonitor.engine_handlers import EngineHandlers
from evmonitor.framed import WireMessage
from evmonitor.outbox import Outbox
from evmonitor.station import Station
from evwire import dumps, loads, make, validate
from evwire import types as t
from evwire.errors import RejectedError

TS = 1_700_000_000


class Link:
    def __init__(self, up: bool = True):
        self.sent: list[dict] = []
        self.up = up

    def send(self, msg: dict) -> bool:
        if self.up:
            self.sent.append(msg)
        return self.up

    def of(self, msg_type: str) -> list[dict]:
        return [m for m in self.sent if m["type"] == msg_type]


class NoHealth:
    def health_answered(self, message_id: str) -> None:
        pass


class NoHandshake:
    def handshake_answer(self, msg: dict) -> bool:
        return False

    def heartbeat_answered(self, msg: dict) -> None:
        pass


def wire(msg: dict) -> WireMessage:
    wrapped = WireMessage(msg)
    wrapped.payload = dumps(msg)
    return wrapped


def make_station(tmp_path, central_up: bool = False) -> Station:
    cfg = config.build(None, {"cp_id": "CP1", "secret": "s", "central": "h:1", "engine": "h:2",
                              "outbox": str(tmp_path / "outbox.sqlite3"), "max_kw": 22},
                       environ={})
    station = Station(cfg, Outbox(cfg.outbox))
    station.engine = Link()
    station.central = Link(up=central_up)
    return station


def page(version="V1", number=1, pages=1, entries=None, price=0.3) -> dict:
    if entries is None:
        entries = [{"driver_id": "D42", "card_uid": "CARD42"}, {"driver_id": "D7"}]
    return make(t.LOCAL_AUTH_LIST, cp_id="CP1", version=version, page=number, pages=pages,
                entries=entries, price_per_kwh=price, timestamp=TS)


def swipe(station: Station, card: str | None = None, driver: str | None = None) -> dict:
    msg = make(t.LOCAL_CHARGE_REQUEST, cp_id="CP1", timestamp=TS,
               **({"card_uid": card} if card else {"driver_id": driver}))
    assert EngineHandlers(station, NoHealth()).local_charge_request(wire(msg)) is None
    return msg


def answer_of(station: Station, request: dict) -> dict:
    (answer,) = [m for m in station.engine.of(t.LOCAL_CHARGE_RESPONSE)
                 if m["message_id"] == request["message_id"]]
    validate(answer)
    return answer


@pytest.fixture
def station(tmp_path):
    return make_station(tmp_path)


def take_list(station: Station, **kw) -> None:
    CentralHandlers(station, NoHandshake()).local_auth_list(page(**kw))


def test_pages_make_one_version_stored_0600_and_loaded_after_a_restart(tmp_path, station):
    validate(page())
    first = page("V2", 1, 2, [{"driver_id": "D1", "card_uid": "C1"}])
    second = page("V2", 2, 2, [{"driver_id": "D2", "card_uid": None}], price=0.41)
    CentralHandlers(station, NoHandshake()).local_auth_list(first)
    assert station.offline.auth_list.version is None  # half a list is not a list
    CentralHandlers(station, NoHandshake()).local_auth_list(second)
    held = station.offline.auth_list
    assert held.version == "V2" and held.price_per_kwh == 0.41
    assert held.cards == {"C1": "D1"} and held.drivers == {"D1", "D2"}
    path = tmp_path / "outbox.sqlite3.auth-list.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["version"] == "V2"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    again = AuthList(path)  # a restarted Monitor
    assert again.version == "V2" and again.cards == {"C1": "D1"}
    assert again.driver_of(None, "C1") == "D1" and again.driver_of("D2", None) == "D2"
    assert again.driver_of(None, "C2") is None and again.driver_of("D9", None) is None


def test_a_change_to_the_list_held_is_applied_and_one_to_another_is_ignored(tmp_path,
                                                                         station):
    take_list(station, entries=[{"driver_id": "D1", "card_uid": "C1"},
                                {"driver_id": "D2", "card_uid": "C2"},
                                {"driver_id": "D3"}])
    other_base = page("V3", entries=[{"driver_id": "D9", "card_uid": "C9"}])
    other_base["base_version"] = "V0"
    validate(other_base)
    station.offline.list_page(other_base)  # not a change to what it holds: ignored
    assert station.offline.auth_list.version == "V1"
    first = page("V2", 1, 2, [{"driver_id": "D2", "card_uid": "NEW2"},
                              {"driver_id": "D4", "card_uid": "C4"}], price=0.4)
    second = page("V2", 2, 2, [], price=0.4)
    for p in (first, second):
        p["base_version"] = "V1"
    second["removed"] = ["D1"]
    validate(first), validate(second)
    station.offline.list_page(first)
    assert station.offline.auth_list.version == "V1"  # half a change is not a change
    station.offline.list_page(second)
    held = station.offline.auth_list
    assert held.version == "V2" and held.price_per_kwh == 0.4
    assert held.drivers == {"D2", "D3", "D4"}
    assert held.cards == {"NEW2": "D2", "C4": "D4"}  # C1 left with D1, C2 replaced
    again = AuthList(tmp_path / "outbox.sqlite3.auth-list.json")  # stored whole
    assert again.version == "V2" and again.cards == held.cards and again.drivers == held.drivers
    bad = page("V5", entries=[])
    bad.update(base_version="V2", removed=["D 1"])
    with pytest.raises(RejectedError, match="removed"):
        station.offline.list_page(bad)
    assert station.offline.auth_list.version == "V2"


@pytest.mark.parametrize("entry, field", [
    ({"driver_id": "D 1"}, "driver_id"), ({"card_uid": "C1"}, "driver_id"),
    ({"driver_id": "D1", "card_uid": "C/1"}, "card_uid"), ("D1", "map"),
    ({"driver_id": "x" * 65}, "driver_id")])
def test_a_bad_entry_refuses_the_page_and_keeps_the_list(station, entry, field):
    take_list(station)
    with pytest.raises(RejectedError, match=field):
        station.offline.list_page(page("V3", entries=[entry]))
    assert station.offline.auth_list.version == "V1"


def test_bounds_and_a_corrupt_file(tmp_path, station):
    with pytest.raises(RejectedError, match="page 3 of 2"):
        station.offline.list_page(page("V4", 3, 2))
    with pytest.raises(RejectedError, match="for charge point 'CP9'"):
        station.offline.list_page(dict(page(), cp_id="CP9"))
    assert MAX_ENTRIES >= 10_000
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    assert AuthList(path).version is None


def test_without_central_a_listed_card_starts_offline_at_the_lists_price(station):
    take_list(station, price=0.3)
    request = swipe(station, card="CARD42")
    answer = answer_of(station, request)
    assert answer["status"] == t.SUCCESS and answer["driver_id"] == "D42"
    (start,) = station.engine.of(t.START_CHARGING_COMMAND)
    validate(start)
    assert start["session_id"] == answer["session_id"] and start["driver_id"] == "D42"
    assert start["price_per_kwh"] == 0.3 and start["max_charging_rate_kw"] == 22
    # after the answer, as Central orders them
    assert station.engine.sent.index(answer) < station.engine.sent.index(start)
    # the Engine's answer opens the session as for any start; nothing goes to Central
    station.command_answered(make(t.COMMAND_RESPONSE, start["message_id"], status=t.SUCCESS,
                                  message="charging", session_id=start["session_id"]))
    assert station.cp.session_id == start["session_id"]
    assert station.central.sent == []
    typed = swipe(station, driver="D7")  # typed on the menu: busy now
    assert answer_of(station, typed)["message"].startswith("charge point busy")


@pytest.mark.parametrize("listed, card, text", [
    (False, "CARD42", "cannot reach Central (no offline authorisation list yet)"),
    (True, "NOSUCHCARD", "cannot reach Central; card NOSUCHCARD is not on the offline "
                         "authorisation list")])
def test_unknown_cards_and_no_list_are_refused_offline(station, listed, card, text):
    if listed:
        take_list(station)
    answer = answer_of(station, swipe(station, card=card))
    assert answer["status"] == t.FAILURE and answer["message"] == text
    assert station.engine.of(t.START_CHARGING_COMMAND) == []


def test_an_operator_stopped_cp_starts_nothing_offline(station):
    take_list(station)
    station.cp.operator_stopped = True
    answer = answer_of(station, swipe(station, card="CARD42"))
    assert answer["message"] == "charge point stopped by operator"


def test_with_central_the_request_goes_there(tmp_path):
    station = make_station(tmp_path, central_up=True)
    take_list(station)
    request = swipe(station, card="CARD42")
    assert station.central.sent == [request] and station.engine.sent == []
    reply = make(t.LOCAL_CHARGE_RESPONSE, request["message_id"], status=t.SUCCESS,
                 message="ok", cp_id="CP1", session_id="S-central", driver_id="D42")
    CentralHandlers(station, NoHandshake()).local_charge_response(reply)
    assert station.engine.sent == [reply]


def test_no_answer_in_time_decides_offline_and_drops_centrals_late_answer(tmp_path):
    station = make_station(tmp_path, central_up=True)
    station.offline.answer_timeout = 0.05
    take_list(station)

    async def scenario() -> dict:
        request = swipe(station, card="CARD42")
        await asyncio.sleep(0.2)
        return request

    request = asyncio.run(scenario())
    answer = answer_of(station, request)
    assert answer["status"] == t.SUCCESS and len(station.engine.of(t.START_CHARGING_COMMAND)) == 1
    late = make(t.LOCAL_CHARGE_RESPONSE, request["message_id"], status=t.SUCCESS,
                message="ok", cp_id="CP1", session_id="S-late", driver_id="D42")
    CentralHandlers(station, NoHandshake()).local_charge_response(late)
    assert late not in station.engine.sent


def test_records_of_an_offline_session_are_marked_before_the_outbox_also_after_a_restart(
        tmp_path, station):
    take_list(station, price=0.3)
    answer = answer_of(station, swipe(station, card="CARD42"))
    session_id = answer["session_id"]
    sample = make(t.CHARGING_DATA, cp_id="CP1", session_id=session_id,
                  energy_consumed_kwh=1.0, total_cost=0.3, charging_rate=11.0, timestamp=TS)
    other = make(t.CHARGING_DATA, cp_id="CP1", session_id="S-online",
                 energy_consumed_kwh=1.0, total_cost=0.3, charging_rate=11.0, timestamp=TS)
    EngineHandlers(station, NoHealth()).charging_data(wire(sample))
    EngineHandlers(station, NoHealth()).charging_data(wire(other))
    restarted = make_station(tmp_path)  # SIGKILL and start again: the file tells
    done = make(t.CHARGE_COMPLETION, cp_id="CP1", session_id=session_id,
                energy_consumed_kwh=2.0, total_cost=0.6, reason="unplugged", timestamp=TS)
    EngineHandlers(restarted, NoHealth()).charge_completion(wire(done))
    rows = restarted.outbox.after(0, 10)
    stored = [loads(r.payload) for r in rows]
    assert [m["message_id"] for m in stored] == [sample["message_id"], other["message_id"],
                                                 done["message_id"]]
    for msg in (stored[0], stored[2]):
        validate(msg)
        assert msg["offline"] is True and msg["driver_id"] == "D42"
        assert msg["price_per_kwh"] == 0.3 and isinstance(msg["started_at"], int)
    assert "offline" not in stored[1]
    files = tmp_path / "outbox.sqlite3.offline-sessions.json"
    assert stat.S_IMODE(os.stat(files).st_mode) == 0o600
