"""Session lifecycle and billing: open, confirm, interrupt, live data, finalise.

Live sessions are kept in memory (and in the database, so a restart resumes
them); a session is finalised exactly once by SessionStore.finalise, then its
ticket goes to the driver on driver-events and the row is marked ticket_sent.
Socket handlers never wait for Kafka: what they publish is awaited in
background tasks, so a broker outage cannot stall a Monitor's connection.
"""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from evcentral.billing import central_cost, completion_ticket, cost_difference, energy_dispute
from evcentral.db import now_s
from evcentral.registry import ChargePoint, Registry, operator_stop_text
from evcentral.session_store import (
    STATUS_CLOSED,
    STATUS_COMPLETED,
    STATUS_DISPUTED,
    STATUS_FAILED,
    Session,
    SessionStore,
)
from evcentral.session_sync import opened_elsewhere
from evwire import dumps, make
from evwire import types as t
from evwire.compat import unix_time
from evwire.trace import log

# charging_status_update status for a live session whose CP lost contact with Central.
CP_UNREACHABLE = "cp_unreachable"
FULL_CHARGE_KWH = 50.0  # the seed's assumption for the progress percentage
# A ticket Central wrote itself (failed start, operator close) that the broker refused
# is sent again after these back-offs, doubling (the session row keeps it meanwhile).
TICKET_RETRY_FIRST_S = 1.0
TICKET_RETRY_MAX_S = 30.0

Publish = Callable[[str, bytes], asyncio.Future]  # (driver_id, CBOR value) -> delivery


def progress_percent(energy_kwh: float) -> int:
    return max(0, min(100, int(energy_kwh * 100 / FULL_CHARGE_KWH)))


class Sessions:
    def __init__(self, store: SessionStore, registry: Registry, publish: Publish,
                 time_scale: float = 1.0):
        self.store = store
        self.registry = registry
        self.publish = publish
        # Simulated seconds per real second of virtual hardware (demos): the energy a
        # CP's power allows in a session scales with it (billing.energy_dispute).
        self.time_scale = time_scale
        self.live: dict[str, Session] = {}
        # A driver has one live session at most (ChargeDesk refuses a second): an index,
        # so a charge request does not scan every live session of a large network.
        self._by_driver: dict[str, Session] = {}
        self._dirty: dict[str, Session] = {}
        # Finalised in the current Kafka batch, ticket not sent yet: KafkaRecords sends
        # them together once the batch is handled.
        self.tickets_due: dict[str, Session] = {}
        self._background: set[asyncio.Task] = set()
        # Told session start, live figures and end (evcentral.status_feed: cp-status).
        self.on_event: Callable[[Session, str], None] = lambda _session, _event: None
        # The CP's site share (evcentral.sites), shown to the driver; None: no site.
        self.limit_of: Callable[[str], float | None] = lambda _cp_id: None
        # Set at shutdown: Central closing its own links is not a CP losing contact.
        self.stopping = False
        # Several Centrals share the database (evcentral.cluster): sessions another
        # Central opened or ended are read from it.
        self.shared_store = False
        self.on_remote_event: Callable[[Session, str], None] | None = None  # evweb's live view

    # -- lookups ---------------------------------------------------------------
    def restore(self) -> None:
        """After a restart: live sessions from the database, attached to their CPs."""
        for session in self.store.live():
            self.live[session.session_id] = session
            self._by_driver[session.driver_id] = session
            cp = self.registry.get(session.cp_id)
            if cp is not None:
                cp.session = session
        if self.live:
            log("info", f"resumed {len(self.live)} live session(s) from the database")
        for session in self.store.unsent_tickets():
            self._send_ticket_later(session)

    def get(self, session_id: str) -> Session | None:
        return self.live.get(session_id) or self.store.get(session_id)

    def by_request(self, request_id: str) -> Session | None:
        stored = self.store.by_request(request_id)
        if stored is None:
            return None
        return self.live.get(stored.session_id, stored)

    def live_of_driver(self, driver_id: str) -> Session | None:
        session = self._by_driver.get(driver_id)
        if (session is None or not session.live) and self.shared_store:
            session = self.store.live_of_driver(driver_id)  # opened by another Central
        return session if session is not None and session.live else None

    # -- lifecycle ---------------------------------------------------------------
    def open(self, cp: ChargePoint, driver_id: str, request_id: str, origin: str) -> Session:
        now = now_s()
        session = Session(session_id=str(uuid.uuid4()), request_id=request_id, cp_id=cp.cp_id,
                          driver_id=driver_id, origin=origin, status="starting",
                          price_per_kwh=self.registry.price_of(cp), max_kw=cp.max_kw,
                          started_at=now, updated_at=now)
        self.store.create(session)
        self.live[session.session_id] = session
        self._by_driver[driver_id] = session
        cp.session = session
        log("info", f"session {session.session_id} starting: driver {driver_id} at {cp.cp_id}"
                    f" ({origin}), {session.price_per_kwh} per kWh")
        self.on_event(session, t.STATUS_EVENT_SESSION_START)
        return session

    def confirm(self, session: Session) -> None:
        """The CP says it is charging this session (command_response or heartbeat)."""
        if session.live and session.status != "active":
            session.status = "active"
            self.store.set_status(session.session_id, "active")
            log("info", f"session {session.session_id} active at {session.cp_id}")
            self._note_cp(session)

    def vehicle_awaited(self, session: Session, text: str) -> None:
        """The CP accepted the start with no car plugged in: it waits for one (relay
        open, nothing billed) until its connection timeout. The CP shows CHARGING
        with 0 kW meanwhile; operators see a note, the driver is told to plug in."""
        cp = self.registry.cps.get(session.cp_id)
        if cp is not None:
            cp.waiting_for_vehicle = session.session_id
        log("info", f"session {session.session_id} at {session.cp_id}: {text}")
        self._publish_later(session.driver_id,
                            self._status_update(session, "waiting_for_vehicle", text))

    def fail_start(self, session: Session, why: str) -> None:
        final = self._final(session, STATUS_FAILED, t.REASON_START_FAILED, energy=0.0, cost=0.0)
        ticket = self._central_ticket(final)
        if self._finalise(final, ticket, None, "start_failed"):
            log("warning", f"session {session.session_id} failed to start: {why}")
            self._publish_later(session.driver_id, self._status_update(final, "failed", why))
            self._send_ticket_later(final)

    def expire_starts(self, timeout: float) -> None:
        """End as failed a start the CP never answered (a lost command), so neither the
        CP nor the driver stays busy for ever. Only while the CP is connected: had
        the Engine started, its Monitor's heartbeats would have confirmed the session."""
        now = now_s()
        for session in list(self.live.values()):
            if session.status != "starting" or now - session.started_at < timeout:
                continue
            cp = self.registry.get(session.cp_id)
            if cp is not None and self.registry.is_connected(cp):
                self.fail_start(session, f"the charge point did not answer the start "
                                         f"command within {timeout:g} s")

    def interrupt(self, cp: ChargePoint, fault_type: str) -> None:
        session = cp.session
        if session is None or session.status == "interrupted":
            return
        session.status = "interrupted"
        self.store.set_status(session.session_id, "interrupted")
        log("warning", f"session {session.session_id} interrupted: {cp.cp_id} {fault_type}")
        self._publish_later(session.driver_id,
                            self._status_update(session, "faulted", f"charge point fault: "
                                                                    f"{fault_type}"))

    def cp_state_changed(self, cp: ChargePoint, _why: str) -> None:
        """Registry.on_change: a CP with a live session went DISCONNECTED (its link closed
        or fell silent). Its driver would otherwise only see the live figures stop: say
        why, and that the session is not lost (the Engine ends it and keeps its ticket)."""
        session = cp.session
        if self.stopping or cp.shown != t.CP_DISCONNECTED or session is None \
                or not session.live:
            return
        who = "charge point" if cp.protocol == "ocpp" else "charge point's Monitor"
        text = (f"the {who} lost contact with Central: the session goes on at the charge "
                "point; its ticket follows")
        log("warning", f"session {session.session_id}: {cp.cp_id} unreachable; "
                       f"{session.driver_id} told")
        self._publish_later(session.driver_id,
                            self._status_update(session, CP_UNREACHABLE, text))

    def tell_operator_stop(self, cp: ChargePoint, reason: str | None) -> None:
        session = cp.session
        if session is not None:
            text = operator_stop_text(reason)
            self._publish_later(session.driver_id,
                                self._status_update(session, "stopped_by_operator", text))

    def close_by_operator(self, session: Session) -> bool:
        """Finalise with the last known energy; False if it had already ended. The
        energy is the CP's last report: checked against its power like a completion."""
        energy = session.energy_kwh
        dispute = energy_dispute(energy, session.max_kw, now_s() - session.started_at,
                                 self.time_scale)
        final = self._final(session, STATUS_DISPUTED if dispute else STATUS_CLOSED,
                            t.REASON_CLOSED_BY_OPERATOR, energy=energy,
                            cost=0.0 if dispute else central_cost(energy, session.price_per_kwh))
        final.dispute_reason = dispute
        if not self._finalise(final, self._central_ticket(final), None, "closed_by_operator"):
            return False
        self._send_ticket_later(final)
        return True

    # -- telemetry from Kafka ---------------------------------------------------------
    def charging_data(self, msg: dict, raw: bytes) -> list[asyncio.Future]:
        session = self.live.get(msg["session_id"]) or \
            (opened_elsewhere(self, msg["session_id"]) if self.shared_store else None)
        if session is None:
            log("info", f"charging_data for session {msg['session_id']} that is not live: ignored")
            return []
        session.energy_kwh = float(msg["energy_consumed_kwh"])
        session.cost = central_cost(session.energy_kwh, session.price_per_kwh)  # not the CP's
        session.rate_kw = float(msg["charging_rate"])
        session.updated_at = now_s()
        cp = self.registry.cps.get(session.cp_id)
        if cp is not None and cp.waiting_for_vehicle == session.session_id:
            cp.waiting_for_vehicle = None  # data flows: the car came
        if session.status == "starting":
            # Data proves it started. An interrupted session is not revived by data,
            # which may be older than the fault; the Monitor's heartbeat revives it.
            session.status = "active"
            self._note_cp(session)
        self._dirty[session.session_id] = session
        self.on_event(session, t.STATUS_EVENT_SESSION_LIVE)
        return [self.publish(session.driver_id, raw),
                self.publish(session.driver_id,
                             dumps(self._status_update(session, "charging")))]

    def adopt(self, session: Session) -> None:
        """A live session opened by another Central (evcentral.session_sync)."""
        self.live[session.session_id] = session
        self._by_driver[session.driver_id] = session
        cp = self.registry.get(session.cp_id)
        if cp is not None and cp.session is None:
            cp.session = session
            self.registry.note(cp)

    def flush_live(self) -> None:
        """Store the batch's live values in one transaction (called per Kafka batch)."""
        dirty = [s for s in self._dirty.values() if s.live]
        self.store.save_live_values(dirty)
        self._dirty.clear()  # only once stored: a busy database keeps them for the retry

    async def charge_completion(self, msg: dict, raw: bytes) -> None:
        """Finalise once; the ticket is queued in tickets_due for the batch to send."""
        session_id = msg["session_id"]
        session = self.get(session_id)
        if session is None:
            log("warning", f"charge_completion for unknown session {session_id}: ignored")
            self.store.record_processed(msg["message_id"], "unknown_session")
            return
        energy = float(msg["energy_consumed_kwh"])
        # Central is the authority on money: energy x the price agreed at the start,
        # unless the CP's power cannot explain the energy (then nothing is billed).
        dispute = energy_dispute(energy, session.max_kw, now_s() - session.started_at,
                                 self.time_scale)
        final = self._final(session, STATUS_DISPUTED if dispute else STATUS_COMPLETED,
                            msg.get("reason") or "completed", energy=energy,
                            cost=0.0 if dispute else central_cost(energy, session.price_per_kwh))
        final.cp_cost = float(msg["total_cost"])
        final.dispute_reason = dispute
        final.meter_start_kwh = msg.get("meter_start_kwh")
        final.meter_stop_kwh = msg.get("meter_stop_kwh")
        if isinstance(msg.get("timestamp"), int):
            final.ended_at = msg["timestamp"]
        failed_before = session.status == STATUS_FAILED
        if self._finalise(final, completion_ticket(msg, final), msg["message_id"],
                          "charge_completion", over_failed_start=final.energy_kwh > 0):
            if failed_before:
                log("warning", f"session {session_id}: its start was reported failed, but the "
                               "Engine charged: billing the Engine's completion")
            self._log_billed(final)
        else:
            log("info", f"charge_completion {msg['message_id']} for session {session_id}: "
                        "already finalised, nothing changes")
        stored = self.store.get(session_id)
        if stored is not None and stored.finalised and not stored.ticket_sent:
            self.tickets_due[session_id] = stored  # sent with the batch's other tickets

    # -- helpers ---------------------------------------------------------------------------
    def _log_billed(self, final: Session) -> None:
        if final.dispute_reason:
            log("warning", f"session {final.session_id} disputed, not billed: "
                           f"{final.dispute_reason}")
            return
        log("info", f"session {final.session_id} billed: {final.energy_kwh:.3f} kWh, "
                    f"{final.cost:.2f} ({final.reason})")
        diff = cost_difference(final.cp_cost or 0.0, final.cost)
        if diff is not None:
            log("warning", f"session {final.session_id}: the CP reported a cost of "
                           f"{final.cp_cost:.2f}, Central bills {final.cost:.2f} "
                           f"(energy x agreed price); difference {diff:+.2f} recorded")

    def _final(self, session: Session, status: str, reason: str, energy: float,
               cost: float) -> Session:
        now = now_s()
        return Session(**{**session.__dict__, "status": status, "reason": reason,
                          "energy_kwh": energy, "cost": cost, "rate_kw": 0.0, "ended_at": now,
                          "updated_at": now, "finalised": True})

    def _finalise(self, final: Session, ticket: bytes, message_id: str | None,
                  kind: str, over_failed_start: bool = False) -> bool:
        done = self.store.finalise(final, ticket, message_id, kind, over_failed_start)
        if not done:  # another Central (or an earlier attempt) finalised it: its row wins
            final = self.store.get(final.session_id) or final
        self.end_copy(final)
        return done

    def end_copy(self, final: Session) -> None:
        """Forget a finalised session's live copy and tell its CP (no write)."""
        live = self.live.pop(final.session_id, None)
        self._dirty.pop(final.session_id, None)
        if live is not None and self._by_driver.get(live.driver_id) is live:
            del self._by_driver[live.driver_id]
        if live is not None:
            live.__dict__.update(final.__dict__)
            self.on_event(live, t.STATUS_EVENT_SESSION_END)
            cp = self.registry.cps.get(final.cp_id)
            if cp is not None and cp.session is live:
                cp.session = None
                self.registry.note(cp, f"session {final.session_id} ended")

    def _note_cp(self, session: Session) -> None:
        cp = self.registry.cps.get(session.cp_id)
        if cp is not None:
            self.registry.note(cp)

    def _status_update(self, session: Session, status: str, message: str | None = None) -> dict:
        fields = dict(session_id=session.session_id, cp_id=session.cp_id,
                      driver_id=session.driver_id, status=status,
                      progress=progress_percent(session.energy_kwh),
                      energy_consumed_kwh=round(session.energy_kwh, 3),
                      total_cost=round(session.cost, 2), timestamp=unix_time())
        if message:
            fields["message"] = message
        limit = self.limit_of(session.cp_id)
        if limit is not None:
            fields["limit_kw"] = limit
        return make(t.CHARGING_STATUS_UPDATE, **fields)

    def _central_ticket(self, final: Session) -> bytes:
        """A completion Central writes itself (failed start, operator close)."""
        return dumps(make(t.CHARGE_COMPLETION, cp_id=final.cp_id, session_id=final.session_id,
                          driver_id=final.driver_id, energy_consumed_kwh=round(final.energy_kwh, 3),
                          total_cost=round(final.cost, 2), reason=final.reason,
                          price_per_kwh=final.price_per_kwh, started_at=final.started_at,
                          timestamp=final.ended_at or unix_time()))

    async def _send_ticket(self, final: Session) -> None:
        ticket = self.store.ticket(final.session_id)
        if ticket is None:
            return
        await self.publish(final.driver_id, ticket)
        self.store.mark_ticket_sent(final.session_id)
        log("info", f"ticket of session {final.session_id} delivered to {final.driver_id}")

    def _send_ticket_later(self, final: Session) -> None:
        async def send() -> None:
            delay = TICKET_RETRY_FIRST_S
            while True:
                try:
                    await self._send_ticket(final)
                    return
                except Exception as exc:  # ticket_sent stays 0: a restart resends it too
                    log("error", f"ticket of session {final.session_id} not delivered "
                                 f"({exc}); retrying in {delay:g} s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, TICKET_RETRY_MAX_S)

        self._background_task(send())

    def _publish_later(self, driver_id: str, msg: dict) -> None:
        future = self.publish(driver_id, dumps(msg))

        async def delivered() -> None:
            try:
                await future
            except Exception as exc:
                log("error", f"driver event {msg['type']} id={msg['message_id']} not "
                             f"delivered: {exc}")

        self._background_task(delivered())

    def _background_task(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout: float) -> None:
        """Give background deliveries a moment at shutdown."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)

