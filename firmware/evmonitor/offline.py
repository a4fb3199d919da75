"""Walk-up charging while no Central answers: the offline authorisation list at work.

A walk-up request (local_charge_request) goes to Central as always. With no
Central link, or no answer within `answer_timeout` seconds, the Monitor decides
itself from the list Central pushed (evmonitor.auth_list): a listed card or
driver starts at once (a session id made here, start_charging_command at the
list's price), anything else is refused with the reason. The offline session
is written down (atomically, beside the outbox) before the start is sent, and
every charging_data / charge_completion of it is marked before it is stored
in the outbox (`offline: true`, driver_id, started_at, price_per_kwh), so the
mark survives a Monitor killed mid-session. Central believes such records
once their `mac` verifies and bills them at its own price (reconciliation:
hub/evcentral/offline_sessions.py). Remote starts still need a Central.
"""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from evmonitor.auth_list import AuthList, read_state, write_state
from evwire import dumps, make, make_timestamped
from evwire import types as t
from evwire.compat import unix_time
from evwire.trace import log

if TYPE_CHECKING:
    from evmonitor.station import Station

CENTRAL_UNREACHABLE_TEXT = "cannot reach Central"
ANSWER_TIMEOUT_S = 5.0  # the Engine gives up after 10 s: decide well before that
KEPT_SESSIONS = 64  # offline sessions remembered (their late records are still marked)
LATE_KEPT = 64  # requests answered offline: Central's late answer to them is dropped


def state_paths(outbox: str) -> tuple[Path | None, Path | None]:
    """The list's and the offline sessions' files, beside the outbox."""
    if not outbox or outbox == ":memory:":
        return None, None
    return Path(f"{outbox}.auth-list.json"), Path(f"{outbox}.offline-sessions.json")


class OfflineCharging:
    def __init__(self, station: Station, answer_timeout: float = ANSWER_TIMEOUT_S):
        self.station = station
        self.cfg = station.cfg
        self.answer_timeout = answer_timeout
        list_path, self.sessions_path = state_paths(self.cfg.outbox)
        self.auth_list = AuthList(list_path)
        self.sessions: dict[str, dict] = {}  # session_id -> driver_id, started_at, price
        self._waiting: dict[str, asyncio.TimerHandle | None] = {}  # forwarded to Central
        self._late: list[str] = []  # answered offline meanwhile
        self._load_sessions()

    # -- the list ------------------------------------------------------------------
    def list_page(self, msg: dict) -> None:
        self.station.check_cp_id(msg)
        self.auth_list.page(msg)

    # -- walk-up requests --------------------------------------------------------------
    def walk_up(self, msg: dict) -> dict | None:
        """To Central if it is there (with a deadline for its answer); else decide here."""
        if self.station.to_central(msg):
            self._waiting[msg["message_id"]] = self._deadline(msg)
            return None
        self.decide(msg, CENTRAL_UNREACHABLE_TEXT)
        return None

    def _deadline(self, msg: dict) -> asyncio.TimerHandle | None:
        if self.answer_timeout <= 0:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return loop.call_later(self.answer_timeout, self._no_answer, msg)

    def _no_answer(self, msg: dict) -> None:
        if self._waiting.pop(msg["message_id"], "gone") == "gone":
            return
        self._late = [*self._late[-(LATE_KEPT - 1):], msg["message_id"]]
        log("warning", f"walk-up request id={msg['message_id']}: no answer from Central "
                       f"within {self.answer_timeout:g} s: deciding offline")
        self.decide(msg, f"no answer from Central within {self.answer_timeout:g} s")

    def central_answered(self, msg: dict) -> bool:
        """Central's local_charge_response: False when it came too late (decided offline)."""
        handle = self._waiting.pop(msg["message_id"], None)
        if handle is not None:
            handle.cancel()
        if msg["message_id"] in self._late:
            log("warning", f"local_charge_response id={msg['message_id']} from Central came "
                           f"after the offline decision: not passed on ({msg['message']})")
            return False
        return True

    def decide(self, msg: dict, why: str) -> None:
        """Answer the Engine from the list: start offline, or refuse saying why."""
        station = self.station
        who = f"driver {msg['driver_id']}" if msg.get("driver_id") else \
            f"card {msg.get('card_uid')}"
        driver_id = self.auth_list.driver_of(msg.get("driver_id"), msg.get("card_uid"))
        if self.auth_list.version is None:
            refusal = f"{why} (no offline authorisation list yet)"
        elif driver_id is None:
            refusal = f"{why}; {who} is not on the offline authorisation list"
        elif station.cp.operator_stopped:
            refusal = "charge point stopped by operator"
        elif station.cp.session is not None:
            refusal = f"charge point busy (session {station.cp.session_id})"
        else:
            refusal = None
        if refusal is not None:
            log("info", f"walk-up {who}: refused offline: {refusal}")
            station.to_engine(make(t.LOCAL_CHARGE_RESPONSE, msg["message_id"], status=t.FAILURE,
                                   message=refusal, cp_id=self.cfg.cp_id,
                                   driver_id=msg.get("driver_id"), reason="offline_refused"))
            return
        self._start(msg, driver_id, who)

    def _start(self, msg: dict, driver_id: str, who: str) -> None:
        station = self.station
        session_id = str(uuid.uuid4())
        price = self.auth_list.price_per_kwh
        self._remember(session_id, {"driver_id": driver_id, "started_at": unix_time(),
                                    "price_per_kwh": price})
        text = f"charging authorised for {driver_id} offline (no Central)"
        answered = station.to_engine(make(
            t.LOCAL_CHARGE_RESPONSE, msg["message_id"], status=t.SUCCESS, message=text,
            cp_id=self.cfg.cp_id, session_id=session_id, driver_id=driver_id))
        start = make_timestamped(t.START_CHARGING_COMMAND, cp_id=self.cfg.cp_id,
                                 session_id=session_id, driver_id=driver_id,
                                 price_per_kwh=price, max_charging_rate_kw=self.cfg.max_kw)
        if not answered or not station.to_engine(start):
            log("warning", f"walk-up {who}: engine unreachable, offline session "
                           f"{session_id} not started")
            return
        for evicted in station.pending.add(start, relay_to_central=False):
            station._command_failed(evicted, "too many commands waiting for the engine")
        log("info", f"walk-up {who}: started offline as session {session_id} for {driver_id} "
                    f"at {price:g} per kWh (list version {self.auth_list.version})")

    # -- the offline sessions' records --------------------------------------------------
    def mark(self, msg: dict, payload: bytes) -> tuple[dict, bytes]:
        """A record of an offline session, marked (before the outbox and before its mac)."""
        known = self.sessions.get(msg.get("session_id"))
        if known is None or msg["type"] not in (t.CHARGING_DATA, t.CHARGE_COMPLETION):
            return msg, payload
        marked = dict(msg)
        marked.update(offline=True, driver_id=known["driver_id"],
                      started_at=known["started_at"], price_per_kwh=known["price_per_kwh"])
        return marked, dumps(marked)

    def _remember(self, session_id: str, fields: dict) -> None:
        self.sessions[session_id] = fields
        while len(self.sessions) > KEPT_SESSIONS:
            del self.sessions[next(iter(self.sessions))]
        if self.sessions_path is None:
            return
        try:
            write_state(self.sessions_path, list(self.sessions.items()))
        except OSError as exc:
            log("error", f"offline sessions not stored in {self.sessions_path} ({exc})")

    def _load_sessions(self) -> None:
        data = read_state(self.sessions_path) if self.sessions_path else None
        if not isinstance(data, list):
            return
        for item in data[-KEPT_SESSIONS:]:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict) \
                    and {"driver_id", "started_at", "price_per_kwh"} <= item[1].keys():
                self.sessions[str(item[0])] = item[1]
