"""The offline authorisation list Central pushes to each Monitor (`local_auth_list`).

Every driver Central knows, with their card when they have one, plus the
CP's current price: what the Monitor needs to start a walk-up session itself
while no Central answers (firmware/evmonitor/offline.py). The version is a
digest of the content (the entries and the CP's price), so every Central of
a cluster and every restart agree on it. The Monitor announces the version it
holds in register_request and in each heartbeat_request; Central pushes the
list when it differs: at registration, within a few seconds of a driver or
card added or removed (by `evcharge central add-driver` on the database or by
an admin; the drivers table is re-read every REFRESH_S), when the CP's price
changes, and again every RETRY_S while a push is not acknowledged by the
announced version. A list larger than one frame goes in pages (at most PAGE_ENTRIES
entries and PAGE_BYTES of them, so that a page stays within the 4096-byte frame);
evcentral.list_pushes sends them, paced.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict

from evcentral.config import Hub
from evcentral.registry import ChargePoint
from evwire import dumps, make_timestamped
from evwire import types as t
from evwire.schema import kind_ok
from evwire.trace import log

REFRESH_S = 5.0  # the drivers table is read at most this often
RETRY_S = 30.0  # a version pushed but not announced back is pushed again after this
# A page's entries: at most this many, and this many bytes of CBOR (an entry is at most
# about 150 bytes: two 64-character ids); with the message's other fields (about 250
# bytes) a page stays under the 4096-byte frame of the Monitor's link.
PAGE_ENTRIES = 32
PAGE_BYTES = 3200
MAX_PAGES = 10_000  # the catalogue's `lim`
# Earlier lists remembered, so that a Monitor holding one of them is sent only the
# change (a driver added to a network of thousands: one page, not the whole list).
HISTORY = 8

Change = list[tuple[list[dict], list[str]]]  # pages of (entries, removed driver ids)


class AuthLists:
    def __init__(self, hub: Hub):
        self.hub = hub
        self._entries: list[dict] = []
        self._digest = ""
        self._chunks: list[list[dict]] = [[]]  # the entries cut into pages, for _digest
        self._read_at = -math.inf
        # digest -> {driver_id: card_uid} of the last HISTORY lists, the current one last
        self._history: OrderedDict[str, dict[str, str | None]] = OrderedDict()
        self._changes: dict[str, Change | None] = {}  # old digest -> change to the current
        self._pushed: dict[str, tuple[str, float]] = {}  # cp_id -> (version, monotonic)

    def entries(self) -> tuple[list[dict], str]:
        """Every driver with an id the wire can carry (cards likewise), and their digest."""
        now = time.monotonic()
        if now - self._read_at >= REFRESH_S:
            self._read_at = now
            entries = []
            for driver in self.hub.db.drivers():
                if not kind_ok(driver.driver_id, "id"):
                    continue
                card = driver.card_uid if kind_ok(driver.card_uid, "id") else None
                entries.append({"driver_id": driver.driver_id, "card_uid": card})
            entries = entries[:PAGE_ENTRIES * MAX_PAGES]
            digest = hashlib.sha256(dumps(entries)).hexdigest()
            if digest != self._digest:
                # Cut once per change, not once per CP: with a thousand Monitors
                # registering at once, cutting per push cost seconds of the event loop.
                self._entries, self._digest = entries, digest
                self._chunks = _cut(entries)
                self._history[digest] = {e["driver_id"]: e["card_uid"] for e in entries}
                self._history.move_to_end(digest)
                while len(self._history) > HISTORY:
                    self._history.popitem(last=False)
                self._changes = {}
        return self._entries, self._digest

    def version_of(self, cp: ChargePoint) -> str:
        _entries, digest = self.entries()
        return _version(digest, self.hub.registry.price_of(cp))

    def pages(self, cp: ChargePoint, held: str | None = None) -> list[dict]:
        """The current list for the CP: only the change from `held` when that is one of
        the remembered lists at the CP's current price and the change is smaller."""
        self.entries()
        price = self.hub.registry.price_of(cp)
        version = _version(self._digest, price)
        change = self._change_for(held, price) if held is not None else None
        if change is not None:
            return [make_timestamped(t.LOCAL_AUTH_LIST, cp_id=cp.cp_id, version=version,
                                     page=number, pages=len(change), entries=entries,
                                     price_per_kwh=price, base_version=held,
                                     **({"removed": removed} if removed else {}))
                    for number, (entries, removed) in enumerate(change, 1)]
        chunks = self._chunks
        return [make_timestamped(t.LOCAL_AUTH_LIST, cp_id=cp.cp_id, version=version,
                                 page=number, pages=len(chunks), entries=chunk,
                                 price_per_kwh=price)
                for number, chunk in enumerate(chunks, 1)]

    def _change_for(self, held: str, price: float) -> Change | None:
        for digest in self._history:
            if digest != self._digest and _version(digest, price) == held:
                if digest not in self._changes:
                    self._changes[digest] = self._change_from(self._history[digest])
                return self._changes[digest]
        return None  # not a list this Central remembers (or the price changed)

    def _change_from(self, old: dict[str, str | None]) -> Change | None:
        current = self._history[self._digest]
        upserts = [{"driver_id": d, "card_uid": c} for d, c in current.items()
                   if d not in old or old[d] != c]
        removed = [d for d in old if d not in current]
        if not upserts and not removed or len(upserts) + len(removed) >= len(current):
            return None  # the whole list is no longer than the change
        change: Change = [(chunk, []) for chunk in _cut(upserts) if chunk]
        change += [([], removed[i:i + PAGE_ENTRIES])
                   for i in range(0, len(removed), PAGE_ENTRIES)]
        return change

    def due(self, cp: ChargePoint, version: str | None) -> list[dict]:
        """The Monitor holds `version` (None: none): the pages of the current list to
        push when it differs and was not pushed within RETRY_S, else none. Taking them
        counts as pushed; forget() undoes that when they did not all go out."""
        try:
            current = self.version_of(cp)
            if version == current:
                self._pushed.pop(cp.cp_id, None)
                return []
            pushed = self._pushed.get(cp.cp_id)
            now = time.monotonic()
            if pushed is not None and pushed[0] == current and now - pushed[1] < RETRY_S:
                return []
            pages = self.pages(cp, version)
        except Exception as exc:  # the list is a convenience: never the heartbeat's failure
            log("error", f"{cp.cp_id}: offline authorisation list not pushed: "
                         f"{type(exc).__name__}: {exc}")
            return []
        self._pushed[cp.cp_id] = (current, now)
        return pages

    def forget(self, cp: ChargePoint) -> None:
        """A push did not complete (the Monitor left): push again when it announces."""
        self._pushed.pop(cp.cp_id, None)

    def log_pushed(self, cp: ChargePoint, pages: int, held: str | None) -> None:
        entries, _digest = self.entries()
        version = self._pushed.get(cp.cp_id, ("?", 0.0))[0]
        log("info", f"{cp.cp_id}: offline authorisation list version {version} pushed "
                    f"({len(entries)} driver(s), {pages} page(s); it held {held or 'none'})")


def _cut(entries: list[dict]) -> list[list[dict]]:
    """Entries in pages of at most PAGE_ENTRIES and PAGE_BYTES of CBOR (one empty page
    for an empty list: the Monitor still learns the version and the price)."""
    chunks: list[list[dict]] = [[]]
    size = 0
    for entry in entries:
        cost = len(dumps(entry))
        if len(chunks[-1]) >= PAGE_ENTRIES or size + cost > PAGE_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += cost
    return chunks[:MAX_PAGES]


def _version(digest: str, price: float) -> str:
    """A CP's list version: the entries' digest and the CP's price."""
    return hashlib.sha256(f"{digest}|{price!r}".encode()).hexdigest()[:16]
