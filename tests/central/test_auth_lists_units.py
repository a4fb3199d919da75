"""evcentral.auth_lists in-process, with a stand-in for Central's database and registry:
the version follows the content and the CP's price, pages stay within a frame, a push
is due only when the Monitor's version differs, and again after RETRY_S."""
from __future__ import annotations

from types import SimpleNamespace

from evcentral import auth_lists
from evcentral.auth_lists import AuthLists
from evcentral.db import DriverRecord
from evwire import dumps, validate


class FakeRegistry:
    def __init__(self, price: float = 0.3, up: bool = True):
        self.price = price
        self.up = up
        self.sent: list[dict] = []

    def price_of(self, cp) -> float:
        return self.price

    def send_to(self, cp, msg: dict) -> bool:
        if self.up:
            self.sent.append(msg)
        return self.up


def make_lists(drivers: list[DriverRecord], **kw) -> tuple[AuthLists, FakeRegistry]:
    registry = FakeRegistry(**kw)
    db = SimpleNamespace(drivers=lambda: list(drivers))
    return AuthLists(SimpleNamespace(db=db, registry=registry)), registry


CP = SimpleNamespace(cp_id="CP1")


def test_version_follows_content_and_price(monkeypatch):
    monkeypatch.setattr(auth_lists, "REFRESH_S", 0.0)
    drivers = [DriverRecord("D1", "", "C1"), DriverRecord("D2", "", None),
               DriverRecord("bad id", "", "C3"), DriverRecord("D4", "", "bad card")]
    lists, registry = make_lists(drivers)
    first = lists.version_of(CP)
    assert lists.version_of(CP) == first and len(first) == 16
    (page,) = lists.pages(CP)
    validate(page)
    assert page["entries"] == [{"driver_id": "D1", "card_uid": "C1"},
                               {"driver_id": "D2", "card_uid": None},
                               {"driver_id": "D4", "card_uid": None}]  # ids the wire carries
    registry.price = 0.35
    assert lists.version_of(CP) != first
    registry.price = 0.3
    drivers.append(DriverRecord("D5", "", "C5"))
    assert lists.version_of(CP) != first


def test_pages_stay_within_a_frame_and_an_empty_list_is_one_page():
    drivers = [DriverRecord(f"D{i:03d}" + "x" * 60, "", f"C{i:03d}" + "y" * 60)
               for i in range(100)]
    lists, _registry = make_lists(drivers)
    pages = lists.pages(CP)
    assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
    assert {p["pages"] for p in pages} == {len(pages)}
    assert sum(len(p["entries"]) for p in pages) == 100
    assert all(len(dumps(p)) <= 4096 for p in pages)
    empty, _registry = make_lists([])
    (page,) = empty.pages(CP)
    assert page["entries"] == [] and page["pages"] == 1


def test_due_when_the_version_differs_and_again_after_the_retry(monkeypatch):
    lists, _registry = make_lists([DriverRecord("D1", "", "C1")])
    version = lists.version_of(CP)
    assert lists.due(CP, version) == []
    (page,) = lists.due(CP, None)
    assert page["version"] == version
    assert lists.due(CP, "OLD") == []  # just taken: waiting for it to be announced
    monkeypatch.setattr(auth_lists, "RETRY_S", 0.0)
    assert len(lists.due(CP, "OLD")) == 1
    monkeypatch.setattr(auth_lists, "RETRY_S", 30.0)
    lists.forget(CP)  # the push did not complete: due again at the next announcement
    assert len(lists.due(CP, "OLD")) == 1
    assert lists.due(CP, version) == []  # announced: done


def test_a_monitor_holding_an_earlier_list_is_sent_only_the_change(monkeypatch):
    monkeypatch.setattr(auth_lists, "REFRESH_S", 0.0)
    drivers = [DriverRecord(f"D{i:03d}", "", f"C{i:03d}") for i in range(200)]
    lists, registry = make_lists(drivers)
    full = lists.pages(CP)
    assert len(full) > 2 and all("base_version" not in p for p in full)
    held = lists.version_of(CP)
    drivers.append(DriverRecord("D999", "", None))  # added
    drivers[5] = DriverRecord("D005", "", "NEWCARD")  # card changed
    del drivers[7]  # D007 removed
    pages = lists.pages(CP, held)
    assert [p["base_version"] for p in pages] == [held] * len(pages)
    assert {p["version"] for p in pages} == {lists.version_of(CP)} != {held}
    for p in pages:
        validate(p)
        assert len(dumps(p)) <= 4096
    entries = [e for p in pages for e in p["entries"]]
    removed = [r for p in pages for r in p.get("removed", [])]
    assert sorted(entries, key=lambda e: e["driver_id"]) == [
        {"driver_id": "D005", "card_uid": "NEWCARD"}, {"driver_id": "D999", "card_uid": None}]
    assert removed == ["D007"]
    # A list this Central does not remember, or another price: the whole list.
    assert all("base_version" not in p for p in lists.pages(CP, "0123456789abcdef"))
    registry.price = 0.5
    assert len(lists.pages(CP, held)) == len(full)


def test_a_change_as_large_as_the_list_is_sent_whole(monkeypatch):
    monkeypatch.setattr(auth_lists, "REFRESH_S", 0.0)
    drivers = [DriverRecord("D1", "", "C1")]
    lists, _registry = make_lists(drivers)
    held = lists.version_of(CP)
    drivers[0] = DriverRecord("D1", "", "C2")
    drivers.append(DriverRecord("D2", "", None))
    (page,) = lists.pages(CP, held)  # two entries changed of two: the whole list, no base
    assert "base_version" not in page and len(page["entries"]) == 2
    held = lists.version_of(CP)
    drivers.append(DriverRecord("D3", "", None))
    (page,) = lists.pages(CP, held)  # one of three: the change
    assert page["base_version"] == held and page["entries"] == [
        {"driver_id": "D3", "card_uid": None}]
