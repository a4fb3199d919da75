"""The offline authorisation list: the cards and drivers this CP may start with no Central.

Central pushes it in pages (`local_auth_list`: version, page k of n, entries
{driver_id, card_uid?}, the CP's price); a version is taken only once all its
pages arrived, then kept in memory and written atomically (a temporary file,
fsync, rename; mode 0600) beside the outbox, so a restarted Monitor still has
it. The Monitor announces the version it holds (register_request,
heartbeat_request: `auth_list_version`); Central pushes when it differs: the
whole list, or only the change from the version held (`base_version`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from evwire.errors import RejectedError
from evwire.schema import kind_ok
from evwire.trace import log

MAX_ENTRIES = 100_000  # drivers a Monitor keeps (a large network's whole list)
MAX_PAGES = 10_000  # the catalogue's `lim`


def write_state(path: str | Path, data: object) -> None:
    """JSON to `path` atomically: a 0600 temporary beside it, fsynced, renamed over it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    text = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_state(path: str | Path) -> object | None:
    """The JSON in `path`, or None if missing or unreadable (said once in the log)."""
    try:
        return json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log("warning", f"cannot read {path} ({exc}): ignored")
        return None


def check_entry(entry: object) -> tuple[str, str | None]:
    """(driver_id, card_uid or None) of one entry; RejectedError naming what is wrong."""
    if not isinstance(entry, dict):
        raise RejectedError("local_auth_list: every entry must be a map")
    driver_id = entry.get("driver_id")
    card_uid = entry.get("card_uid")
    if not kind_ok(driver_id, "id"):
        raise RejectedError("local_auth_list: entry field 'driver_id' must be 1-64 of "
                            "A-Z a-z 0-9 . _ : -")
    if card_uid is not None and not kind_ok(card_uid, "id"):
        raise RejectedError("local_auth_list: entry field 'card_uid' must be 1-64 of "
                            "A-Z a-z 0-9 . _ : -")
    return driver_id, card_uid


def check_removed(driver_id: object) -> str:
    """One driver id of a change's `removed`; RejectedError if it is not an id."""
    if not kind_ok(driver_id, "id"):
        raise RejectedError("local_auth_list: every 'removed' item must be a driver id, "
                            "1-64 of A-Z a-z 0-9 . _ : -")
    return driver_id


class AuthList:
    def __init__(self, path: str | Path | None):
        self.path = path
        self.version: str | None = None
        self.price_per_kwh: float | None = None
        self.drivers: set[str] = set()
        self.cards: dict[str, str] = {}  # card_uid -> driver_id
        # (version, pages, base_version, {page: (entries, removed)}) of a list arriving
        self._staging: tuple[str, int, str | None, dict[int, tuple]] | None = None
        self._load()

    def _load(self) -> None:
        if self.path is None:
            return
        data = read_state(self.path)
        if not isinstance(data, dict):
            return
        try:
            entries = [check_entry(e) for e in data["entries"]]
            version, price = data["version"], data["price_per_kwh"]
            if not kind_ok(version, "id") or not kind_ok(price, "price"):
                raise ValueError("bad version or price")
        except (KeyError, TypeError, ValueError, RejectedError) as exc:
            log("warning", f"offline authorisation list {self.path} not usable ({exc}): "
                           "ignored until Central sends one")
            return
        self._take(version, price, entries)
        log("info", f"offline authorisation list version {version}: {len(self.drivers)} "
                    f"driver(s), {len(self.cards)} card(s)")

    def _take(self, version: str, price: float, entries: list[tuple[str, str | None]]) -> None:
        self.version = version
        self.price_per_kwh = float(price)
        self.drivers = {d for d, _c in entries}
        self.cards = {c: d for d, c in entries if c is not None}

    def page(self, msg: dict) -> bool:
        """One page from Central; True once a whole new version is taken (and stored).

        A page with `base_version` is part of a change to that version (entries added
        or changed, `removed` driver ids): taken only by a Monitor holding that version;
        another one ignores it and announces what it holds, and Central sends the whole
        list or a change from there."""
        version, page, pages = msg["version"], msg["page"], msg["pages"]
        base = msg.get("base_version")
        if page > pages:
            raise RejectedError(f"local_auth_list: page {page} of {pages}")
        checked = [check_entry(e) for e in msg["entries"]]
        removed = [check_removed(r) for r in msg.get("removed") or []]
        if version == self.version:
            return False  # already held (a page pushed twice)
        if base is not None and base != self.version:
            log("info", f"offline authorisation list: a change from version {base} ignored "
                        f"(this Monitor holds {self.version or 'none'})")
            self._staging = None
            return False
        if self._staging is None or self._staging[:3] != (version, pages, base):
            self._staging = (version, pages, base, {})
        got = self._staging[3]
        got[page] = (checked, removed)
        if sum(len(v[0]) + len(v[1]) for v in got.values()) > MAX_ENTRIES:
            self._staging = None
            raise RejectedError(f"local_auth_list: more than {MAX_ENTRIES} entries")
        if len(got) < pages:
            return False
        self._staging = None
        entries_all = [e for k in sorted(got) for e in got[k][0]]
        if base is not None:
            entries_all = self._changed(entries_all, [r for k in got for r in got[k][1]])
            if len(entries_all) > MAX_ENTRIES:
                raise RejectedError(f"local_auth_list: more than {MAX_ENTRIES} entries")
        self._take(version, msg["price_per_kwh"], entries_all)
        self._save(entries_all)
        log("info", f"offline authorisation list version {version} taken"
                    f"{' (a change from ' + base + ')' if base else ''}: "
                    f"{len(self.drivers)} driver(s), {len(self.cards)} card(s), "
                    f"{self.price_per_kwh:g} per kWh")
        return True

    def _changed(self, upserts: list[tuple[str, str | None]],
                 removed: list[str]) -> list[tuple[str, str | None]]:
        """The list held, with a change applied (removals first, then the entries)."""
        held: dict[str, str | None] = {d: None for d in self.drivers}
        for card, driver in self.cards.items():
            held[driver] = card
        for driver in removed:
            held.pop(driver, None)
        for driver, card in upserts:
            held[driver] = card
        return sorted(held.items())

    def _save(self, entries: list[tuple[str, str | None]]) -> None:
        if self.path is None:
            return
        data = {"version": self.version, "price_per_kwh": self.price_per_kwh,
                "entries": [{"driver_id": d, "card_uid": c} for d, c in entries]}
        try:
            write_state(self.path, data)
        except OSError as exc:
            log("error", f"offline authorisation list not stored in {self.path} ({exc}): "
                         "kept in memory only")

    def driver_of(self, driver_id: str | None, card_uid: str | None) -> str | None:
        """The listed driver a walk-up names (by driver id or card), or None."""
        if driver_id:
            return driver_id if driver_id in self.drivers else None
        if card_uid:
            return self.cards.get(card_uid)
        return None
