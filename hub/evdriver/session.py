"""One charge: request it, follow it live from driver-events, stop it when a
limit is reached or the user asks, and end with its ticket.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from evdriver.answers import check_answer
from evdriver.context import DriverContext
from evdriver.errors import Interrupted, Refused, RequestFailed, Unreachable
from evdriver.events import EVENT_TYPES
from evdriver.interrupts import InterruptWatch
from evdriver.linkwatch import LinkWatch
from evdriver.model import Progress, ServiceResult, Ticket, describe_reason, target_percent
from evwire import make_timestamped
from evwire import types as t
from evwire.dispatch import Dispatcher

STOP_RETRY_S = 2.0
# After a fault the Engine often ends the session at once (its ticket follows the
# status within a second); only a ticket still missing after this long is one that
# waits for the charge point to recover, and only then is the driver told so.
FAULT_TICKET_GRACE_S = 2.0
TICKET_LATER = "its ticket will be shown the next time the driver starts"


@dataclass
class Limits:
    kwh: float | None = None
    minutes: float | None = None


def charge_once(ctx: DriverContext, cp_id: str, limits: Limits) -> ServiceResult:
    """Ask Central for a charge at cp_id and follow it; a refusal is a result, not an error."""
    request = make_timestamped(t.CHARGE_REQUEST, cp_id=cp_id, driver_id=ctx.driver_id)
    # If the request waits in Kafka while Central is down, Central must not carry it
    # out after this driver has given up waiting and reported a failure. The driver
    # waits at least `timeout` from now, so rounding the deadline down keeps it at or
    # before the moment the driver gives up (Central refuses from that second on).
    request["expires_at"] = math.floor(time.time() + ctx.settings.timeout)
    try:
        answer = check_answer(ctx.request(request), t.CHARGE_REQUEST_RESPONSE)
        if not answer.get("session_id"):
            raise RequestFailed("Central accepted the request but sent no session id")
    except Refused as exc:
        return ServiceResult(cp_id, ok=False, refusal=str(exc), refused=True)
    except RequestFailed as exc:
        return ServiceResult(cp_id, ok=False, refusal=str(exc))
    price = answer.get("price_per_kwh")
    priced = f" at {price:.2f} EUR/kWh" if isinstance(price, (int, float)) else ""
    ctx.output.status("accepted", cp_id, answer["session_id"],
                      f"accepted: session {answer['session_id']}{priced}")
    result = SessionFollower(ctx, cp_id, answer["session_id"], limits).follow()
    if result.ticket is not None and result.ticket.reason == t.REASON_START_FAILED:
        # Accepted by Central, but the charge point could not start: no service.
        result.ok = False
        result.refusal = describe_reason(t.REASON_START_FAILED)
    return result


class SessionFollower:
    """Handlers named after the event types, plus the connection's local events."""

    def __init__(self, ctx: DriverContext, cp_id: str, session_id: str, limits: Limits,
                 stop_already_sent: bool = False):
        assert ctx.stream is not None and ctx.client is not None
        self.ctx = ctx
        self.cp_id = cp_id
        self.session_id = session_id
        self.limits = limits
        # Charging time counts from the first sample: the moment charging started
        # (the same origin as the Engine's ticket duration), not from authorisation.
        self.charging_since: float | None = None
        self.energy = self.rate = self.cost = 0.0
        self.limit_kw: float | None = None  # the site share Central gives this CP (issue 22)
        self.last_status = ""
        self.charging_seen = False
        self.faulted_at: float | None = None  # a fault whose ticket has not come yet
        self.ticket: Ticket | None = None
        self.stop_wanted = self.stop_sent = stop_already_sent
        self.last_stop_try = 0.0
        self.interrupted = False
        self.dispatcher = Dispatcher(self, EVENT_TYPES)

    def follow(self) -> ServiceResult:
        stream = self.ctx.stream
        assert stream is not None and self.ctx.client is not None
        links = LinkWatch(self.ctx.client, stream, self.ctx.settings.reconnect_grace,
                          self.report)
        with InterruptWatch(may_ask=not self.ctx.settings.json) as interrupts:
            while self.ticket is None:
                event = stream.poll(0.5)
                if event is not None:
                    links.event_arrived()
                    self.dispatcher.handle(event)
                    if self.ticket is not None:
                        break
                self._check_time_limit()
                self._say_if_ticket_waits_for_recovery()
                self._send_stop_if_wanted()
                self._on_signals(interrupts)
                links.check()
        stream.commit()
        return ServiceResult(self.cp_id, ok=True, ticket=self.ticket,
                             interrupted=self.interrupted)

    # -- events from driver-events ---------------------------------------
    def charging_data(self, msg: dict) -> None:
        if msg["session_id"] != self.session_id:
            return  # a late sample of an earlier session
        if not self.charging_seen:
            self.charging_seen = True
            self.charging_since = time.monotonic()
            self.ctx.output.status("charging", self.cp_id, self.session_id, "charging")
        self.energy = float(msg["energy_consumed_kwh"])
        self.rate = float(msg["charging_rate"])
        self.cost = float(msg["total_cost"])
        if msg.get("limit_kw") is not None:  # the sample's own limit: this tick's, not the last
            self.limit_kw = float(msg["limit_kw"])
        self._show_progress()
        if self.limits.kwh is not None and self.energy >= self.limits.kwh:
            self._want_stop(f"target of {self.limits.kwh:g} kWh reached")

    def charging_status_update(self, msg: dict) -> None:
        if msg["session_id"] != self.session_id:
            return
        # msg["progress"] is Central's share of a nominal 50 kWh battery: not shown, the
        # view's percentage is of the driver's own target (model.target_percent).
        if msg.get("limit_kw") is not None and float(msg["limit_kw"]) != self.limit_kw:
            self.limit_kw = float(msg["limit_kw"])
            if self.charging_seen:
                self._show_progress()  # the view shows the state after this update at once
        status = msg["status"]
        if status == self.last_status:
            return
        previous, self.last_status = self.last_status, status
        detail = f": {msg['message']}" if msg.get("message") else ""
        if status == "charging":
            if previous == "faulted":
                self.faulted_at = None
                self.ctx.output.status("recovered", self.cp_id, self.session_id,
                                       "the charge point recovered: charging again")
            elif previous == "cp_unreachable":  # else the stale line would stand unanswered
                self.ctx.output.status("cp_reachable", self.cp_id, self.session_id,
                                       "the charge point is in contact with Central again")
            return  # otherwise the live line shows it
        if status == "faulted":
            # Whether the ticket waits for recovery is said only once it is late.
            self.faulted_at = time.monotonic()
            text = f"the charge point reported a fault{detail}"
        elif status == "failed":
            text = f"the charge point could not start charging{detail}"
        elif status == "cp_unreachable":  # Central's words say what goes on meanwhile
            text = msg.get("message") or "the charge point lost contact with Central"
        elif status == "stopped_by_operator":
            text = f"an operator stopped the charge point{detail}; the session ends"
        elif status == "waiting_for_vehicle":  # the CP's own words say for how long
            text = f"authorised, {msg['message']}" if msg.get("message") else \
                "authorised: plug the car in"
        else:
            text = f"status {status}{detail}"
        self.ctx.output.status(status, self.cp_id, self.session_id, text)

    def charge_completion(self, msg: dict) -> None:
        if msg["session_id"] != self.session_id:
            self.ctx.show_ticket(msg, away=True)  # an earlier session ended meanwhile
            return
        charged = round(self.elapsed(), 1) if self.charging_seen else None
        shown = self.ctx.show_ticket(msg, local_duration_s=charged)
        self.ticket = shown or Ticket.from_completion(msg, charged)

    def charge_completion_notification(self, msg: dict) -> None:
        self.charge_completion(msg)

    # -- local events of the connection (the seed's connection_lost/_error) --
    def report(self, event: dict) -> None:
        getattr(self, event["type"])(event)

    def connection_lost(self, event: dict) -> None:
        self.ctx.output.status("connection_lost", self.cp_id, self.session_id,
                               f"connection lost: {event['detail']}; the session goes on at "
                               "the charge point, reconnecting")

    def connection_error(self, event: dict) -> None:
        grace = self.ctx.settings.reconnect_grace
        self.ctx.output.status("connection_error", self.cp_id, self.session_id,
                               f"connection error: {event['detail']}; retrying for up to "
                               f"{grace:g} s")

    def restored(self, event: dict) -> None:
        self.ctx.output.status("restored", self.cp_id, self.session_id, event["detail"])

    # -- stopping --------------------------------------------------------
    def elapsed(self) -> float:
        """Charging time so far: 0 until the first sample."""
        if self.charging_since is None:
            return 0.0
        return time.monotonic() - self.charging_since

    def _show_progress(self) -> None:
        charging_s = self.elapsed()
        percent = target_percent(self.energy, charging_s, self.limits.kwh, self.limits.minutes)
        self.ctx.output.progress(Progress(self.session_id, self.cp_id, self.energy, self.rate,
                                          self.cost, round(charging_s, 1), percent,
                                          self.limit_kw))

    def _say_if_ticket_waits_for_recovery(self) -> None:
        if self.faulted_at is None or time.monotonic() - self.faulted_at < FAULT_TICKET_GRACE_S:
            return
        self.faulted_at = None
        self.ctx.output.status("interrupted", self.cp_id, self.session_id,
                               "the session is interrupted: its ticket follows when the "
                               "charge point recovers")

    def _check_time_limit(self) -> None:
        if self.limits.minutes is not None and self.elapsed() >= self.limits.minutes * 60:
            self._want_stop(f"time limit of {self.limits.minutes:g} min reached")

    def _want_stop(self, why: str) -> None:
        if self.stop_wanted:
            return
        self.stop_wanted = True
        self.ctx.output.status("stopping", self.cp_id, self.session_id, f"{why}: stopping")

    def _send_stop_if_wanted(self) -> None:
        now = time.monotonic()
        if not self.stop_wanted or self.stop_sent or now - self.last_stop_try < STOP_RETRY_S:
            return
        self.last_stop_try = now
        request = make_timestamped(t.STOP_CHARGING_REQUEST, cp_id=self.cp_id,
                                   session_id=self.session_id, driver_id=self.ctx.driver_id)
        try:
            answer = self.ctx.request(request)
        except Unreachable as exc:
            self.ctx.output.notice(f"could not send the stop request ({exc}); retrying")
            return
        self.stop_sent = True
        try:
            check_answer(answer, t.STOP_CHARGING_RESPONSE)
        except (Refused, RequestFailed) as exc:  # e.g. the car finished meanwhile
            self.ctx.output.notice(f"Central did not stop the session ({exc}); "
                                   "waiting for the ticket")

    def _on_signals(self, interrupts: InterruptWatch) -> None:
        if interrupts.terminated:
            raise Interrupted(f"terminated: the session goes on at {self.cp_id}; {TICKET_LATER}")
        if not interrupts.take():
            return
        if self.stop_wanted:
            raise Interrupted(f"left without waiting for the ticket; {TICKET_LATER}")
        self.ctx.output.break_line()
        if interrupts.confirm_stop():
            self.interrupted = True
            self._want_stop("you asked to stop")
            self._send_stop_if_wanted()
        else:
            self.ctx.output.notice("charging goes on")
            if self.charging_seen:
                self._show_progress()  # the state now, not the one before the question
