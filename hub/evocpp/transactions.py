"""OCPP transactions as Central's sessions: the same ChargeDesk, Sessions and
billing as a Monitor's CP (docs/OCPP.md, Charging).

- Central's start_charging_command -> RemoteStartTransaction (idTag = the
  driver's card, else the driver id); StartTransaction links the charger's
  transaction to that session, or opens one for a known local idTag.
- MeterValues -> a charging_data through Sessions.charging_data, as if read
  from Kafka: the driver sees live values.
- StopTransaction -> a charge_completion through Sessions.charge_completion:
  Central bills (meterStop - meterStart) x the price agreed at the start,
  exactly once (the transaction row's `stopped`, and the session's own
  finalise-once), and the ticket goes to the driver.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from evcentral.billing import central_cost
from evcentral.charging import ChargeDesk, ChargeRefused
from evcentral.config import Hub
from evcentral.db import now_s
from evcentral.session_store import Session
from evocpp import link as ocpp_link
from evocpp import meter
from evocpp.store import TransactionStore
from evwire import dumps, make
from evwire import types as t
from evwire.compat import unix_time
from evwire.trace import log

if TYPE_CHECKING:
    from evocpp.link import OcppLink

MAX_ID_TAG = 20  # OCPP 1.6 IdToken: CiString20
# Live values are stored at most this often (one SQLite transaction for all sessions
# that changed): a commit per MeterValues would cost an fsync each. A crash loses at
# most this much of live values; billing uses StopTransaction's meterStop.
FLUSH_EVERY_S = 1.0
# A transaction the charger started while offline began before Central heard of it:
# its session starts at the charger's timestamp (so the check that the CP's power can
# explain the energy counts the real duration), trusted this far back at most.
MAX_OFFLINE_START_S = 48 * 3600
# StopTransaction.reason -> our completion reasons (evwire.types REASON_*)
STOP_REASONS = {"Remote": t.REASON_STOPPED, "Local": t.REASON_STOPPED,
                "EVDisconnected": t.REASON_UNPLUGGED, "EmergencyStop": t.REASON_FAULT,
                "PowerLoss": t.REASON_FAULT, "DeAuthorized": t.REASON_CP_STOPPED}
ACCEPTED = {"status": "Accepted"}
INVALID = {"status": "Invalid"}


# Sessions whose ticket this process already started sending (bounded).
MAX_TICKETS_REMEMBERED = 10_000


class OcppCharging:
    def __init__(self, hub: Hub, desk: ChargeDesk):
        self.hub = hub
        self.desk = desk
        self.sessions = hub.sessions
        self.store = TransactionStore(hub.db)
        self._background: set[asyncio.Task] = set()
        self._flush_due: asyncio.TimerHandle | None = None
        self._tickets_started: set[str] = set()

    # -- who is this idTag -------------------------------------------------------------
    def driver_of(self, id_tag: str) -> str | None:
        """The driver a card belongs to. Only cards: a driver id is no secret (it keys
        Kafka records, shows in consoles), so a charger presenting one is not proof
        that the driver is there. A driver id as idTag is accepted only for the remote
        start Central itself asked for (start_transaction's first branch)."""
        driver = self.hub.db.driver_by_card(id_tag)
        return driver.driver_id if driver is not None else None

    def id_tag_of(self, driver_id: str) -> str | None:
        driver = self.hub.db.driver(driver_id)
        tag = (driver.card_uid if driver is not None and driver.card_uid else driver_id)
        return tag if len(tag) <= MAX_ID_TAG else None

    def authorize(self, id_tag: str) -> dict:
        return ACCEPTED if self.driver_of(id_tag) else INVALID

    # -- from the charger -----------------------------------------------------------------
    def booted(self, link: OcppLink, model: str) -> None:
        cp = self.hub.registry.get(link.id)
        if cp is None:
            return
        cp.registered = True
        self.hub.registry.note(cp, f"registered (OCPP BootNotification, {model})")
        if cp.stopped:  # stopped by the operator while it was away
            link.send(make(t.STOP_CP_COMMAND, cp_id=cp.cp_id, timestamp=unix_time()))

    def start_transaction(self, cp_id: str, id_tag: str, meter_start: int,
                          timestamp: str) -> tuple[int, dict]:
        replay = self.store.find_start(cp_id, id_tag, timestamp, meter_start)
        if replay is not None:
            return replay.tx_id, ACCEPTED if replay.session_id else INVALID
        cp = self.hub.registry.get(cp_id)
        session = cp.session if cp is not None else None
        if session is not None and session.live and self.id_tag_of(session.driver_id) == id_tag \
                and self.store.of_session(session.session_id) is None:
            self.sessions.confirm(session)  # the remote start we asked for
        else:
            session = self._local_session(cp_id, id_tag, timestamp)
        tx = self.store.open(cp_id, id_tag, timestamp, meter_start,
                             session.session_id if session else None)
        if session is None:
            return tx.tx_id, INVALID
        log("info", f"{cp_id}: transaction {tx.tx_id} is session {session.session_id}")
        return tx.tx_id, ACCEPTED

    def _local_session(self, cp_id: str, id_tag: str, timestamp: str) -> Session | None:
        """A transaction the charger started on its own (a card at the charger)."""
        driver_id = self.driver_of(id_tag)
        if driver_id is None:
            log("warning", f"{cp_id}: StartTransaction with unknown idTag refused")
            return None
        try:
            session, _new = self.desk.open(cp_id, driver_id, str(uuid.uuid4()), "local")
        except ChargeRefused as denial:
            log("warning", f"{cp_id}: StartTransaction for {driver_id} refused: {denial}")
            return None
        began = meter.unix_of(timestamp)
        if began is not None and now_s() - MAX_OFFLINE_START_S <= began < session.started_at:
            session.started_at = began  # the live session: what charge_completion checks
        self.sessions.confirm(session)
        return session

    def meter_values(self, cp_id: str, tx_id: int | None, values: list[dict]) -> None:
        tx = self.store.get(tx_id) if tx_id is not None else None
        if tx is None or tx.cp_id != cp_id or tx.session_id is None:
            return  # no transaction of ours: nothing to show a driver
        session = self.sessions.live.get(tx.session_id)
        energy, power = meter.read(values)
        if session is None or energy is None:
            return
        used = max(0.0, energy - tx.meter_start_wh / 1000.0)
        msg = make(t.CHARGING_DATA, cp_id=cp_id, session_id=session.session_id,
                   driver_id=session.driver_id, energy_consumed_kwh=round(used, 4),
                   total_cost=central_cost(used, session.price_per_kwh),
                   charging_rate=round(power if power is not None else session.rate_kw, 3),
                   meter_kwh=round(energy, 4), price_per_kwh=session.price_per_kwh,
                   timestamp=unix_time())
        futures = self.sessions.charging_data(msg, dumps(msg))
        if self._flush_due is None:
            self._flush_due = asyncio.get_running_loop().call_later(FLUSH_EVERY_S, self._flush)
        if futures:
            self._later(_delivered(futures, session.session_id))

    async def stop_transaction(self, cp_id: str, tx_id: int, meter_stop: int, timestamp: str,
                               reason: str | None) -> None:
        tx = self.store.get(tx_id)
        if tx is None or tx.cp_id != cp_id:
            log("warning", f"{cp_id}: StopTransaction for unknown transaction {tx_id}")
            return
        if tx.stopped or tx.session_id is None:
            log("info", f"{cp_id}: StopTransaction {tx_id} again: already billed")
            return
        session = self.sessions.get(tx.session_id)
        if session is not None:
            await self._complete(session, tx.meter_start_wh, meter_stop, timestamp, reason)
        self.store.mark_stopped(tx_id, meter_stop)

    async def _complete(self, session: Session, start_wh: int, stop_wh: int, timestamp: str,
                        reason: str | None) -> None:
        if stop_wh < start_wh:
            log("warning", f"session {session.session_id}: meterStop {stop_wh} Wh below "
                           f"meterStart {start_wh} Wh: billed as 0 kWh")
        energy = max(0, stop_wh - start_wh) / 1000.0
        ended = meter.unix_of(timestamp) or unix_time()
        msg = make(t.CHARGE_COMPLETION, f"ocpp-stop-{session.session_id}",
                   cp_id=session.cp_id, session_id=session.session_id,
                   driver_id=session.driver_id, energy_consumed_kwh=round(energy, 4),
                   total_cost=central_cost(energy, session.price_per_kwh),
                   reason=STOP_REASONS.get(reason or "Local", reason or t.REASON_STOPPED),
                   meter_start_kwh=start_wh / 1000.0, meter_stop_kwh=stop_wh / 1000.0,
                   price_per_kwh=session.price_per_kwh, started_at=session.started_at,
                   duration_s=max(0, ended - session.started_at),
                   timestamp=min(ended, now_s()))
        await self.sessions.charge_completion(msg, dumps(msg))
        due = self.sessions.tickets_due.pop(session.session_id, None)
        # A replayed StopTransaction re-queues a ticket whose first sending may still be
        # in flight: one sending per session in this process (a restart re-sends the
        # unsent ones once, Sessions.restore).
        if due is not None and session.session_id not in self._tickets_started:
            if len(self._tickets_started) >= MAX_TICKETS_REMEMBERED:
                self._tickets_started.clear()
            self._tickets_started.add(session.session_id)
            self.sessions._send_ticket_later(due)  # the Kafka path sends per batch; we now

    # -- to the charger (Central's commands, from OcppLink's queue) --------------------------
    async def command(self, link: OcppLink, msg: dict) -> None:
        kind = msg["type"]
        if kind == t.START_CHARGING_COMMAND:
            await self._remote_start(link, msg)
        elif kind == t.STOP_CHARGING_COMMAND:
            await self._remote_stop(link, msg["session_id"])
        elif kind in (t.STOP_CP_COMMAND, t.RESUME_CP_COMMAND):
            operative = kind == t.RESUME_CP_COMMAND
            cp = self.hub.registry.get(link.id)
            if not operative and cp is not None and cp.session is not None:
                await self._remote_stop(link, cp.session.session_id)
            result = await link.ocpp_call(ocpp_link.availability(operative))
            log("info", f"{link.id}: ChangeAvailability "
                        f"{'Operative' if operative else 'Inoperative'} -> "
                        f"{getattr(result, 'status', 'no answer')}")
        else:
            log("info", f"{link.id}: {kind} has no OCPP equivalent: not sent")

    async def _remote_start(self, link: OcppLink, msg: dict) -> None:
        session = self.sessions.get(msg["session_id"])
        if session is None or not session.live:
            return
        tag = self.id_tag_of(session.driver_id)
        if tag is None:
            self.sessions.fail_start(session, f"driver id {session.driver_id} is longer than an"
                                              f" OCPP idTag ({MAX_ID_TAG}) and has no card")
            return
        result = await link.ocpp_call(ocpp_link.start_call(tag))
        if ocpp_link.accepted(result):
            log("info", f"{link.id}: RemoteStartTransaction for session {session.session_id}"
                        " accepted")
        elif session.live and session.status == "starting":
            why = "rejected" if result is not None else "not answered"
            self.sessions.fail_start(session, f"the charger {why} RemoteStartTransaction")

    async def _remote_stop(self, link: OcppLink, session_id: str) -> None:
        tx = self.store.of_session(session_id)
        if tx is None or tx.stopped:
            session = self.sessions.get(session_id)
            if session is not None and session.live and session.status == "starting":
                self.sessions.fail_start(session, "stopped before the charger started")
            return
        result = await link.ocpp_call(ocpp_link.stop_call(tx.tx_id))
        log("info", f"{link.id}: RemoteStopTransaction {tx.tx_id} -> "
                    f"{getattr(result, 'status', 'no answer')}")

    def _flush(self) -> None:
        self._flush_due = None
        try:
            self.sessions.flush_live()
        except Exception as exc:  # a busy database: the values stay dirty for the next one
            log("warning", f"live values of OCPP sessions not stored yet: {exc}")

    def _later(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _delivered(futures: list[asyncio.Future], session_id: str) -> None:
    results = await asyncio.gather(*futures, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log("warning", f"live data of session {session_id} not delivered: {result}")
