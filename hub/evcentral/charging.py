"""Authorising a charge and asking a CP to start or stop it.

Shared by the driver's charge_request (socket or Kafka) and the walk-up
local_charge_request a Monitor forwards, so both are checked alike.
"""
from __future__ import annotations

from evcentral.config import Hub
from evcentral.registry import operator_stop_text
from evcentral.session_store import Session
from evwire import make
from evwire import types as t
from evwire.compat import unix_time

# Refusal reasons (charge_request_response.reason), in the order they are checked.
UNKNOWN_CP = "unknown_cp"
DISCONNECTED = "disconnected"
STOPPED = "stopped"
FAULTED = "faulted"
BUSY = "busy"
DRIVER_BUSY = "driver_busy"
UNKNOWN_DRIVER = "unknown_driver"
DUPLICATE_REQUEST = "duplicate_request"
# Refusals of stop_charging_request.
UNKNOWN_SESSION = "unknown_session"
NOT_YOUR_SESSION = "not_your_session"
ALREADY_ENDED = "already_ended"
DRIVER_REQUIRED = "driver_id_required"


class ChargeRefused(Exception):
    def __init__(self, reason: str, text: str):
        super().__init__(text)
        self.reason = reason


class ChargeDesk:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.registry = hub.registry
        self.sessions = hub.sessions

    def open(self, cp_id: str, driver_id: str, request_id: str,
             origin: str) -> tuple[Session, bool]:
        """(session, is_new): a new session, or the one this very request opened before.

        Raises ChargeRefused naming the first check that fails.
        """
        earlier = self.sessions.by_request(request_id)
        if earlier is not None and earlier.driver_id == driver_id and earlier.cp_id == cp_id:
            return earlier, False
        if earlier is not None:
            # Another driver's (or another CP's) request id, read off a topic: telling
            # which session it opened would show someone else's session.
            raise ChargeRefused(DUPLICATE_REQUEST, "this message_id was already used by "
                                                   "another request: send a fresh one")
        cp = self.registry.get(cp_id)
        if cp is None:
            raise ChargeRefused(UNKNOWN_CP, f"unknown charge point {cp_id}")
        if not self.registry.is_connected(cp):
            raise ChargeRefused(DISCONNECTED, f"{cp_id} is not connected to Central")
        if cp.stopped:
            raise ChargeRefused(STOPPED, f"{cp_id} is out of service "
                                         f"({operator_stop_text(cp.stop_reason)})")
        if cp.faulted:
            raise ChargeRefused(FAULTED, f"{cp_id} is faulted ({cp.fault_type or 'fault'})")
        if cp.session is not None:
            raise ChargeRefused(BUSY, f"{cp_id} is busy with another session")
        other = self.sessions.live_of_driver(driver_id)
        if other is not None:
            raise ChargeRefused(DRIVER_BUSY, f"driver {driver_id} is already charging at "
                                             f"{other.cp_id} (session {other.session_id})")
        if self.hub.config.require_known_drivers and self.hub.db.driver(driver_id) is None:
            raise ChargeRefused(UNKNOWN_DRIVER, f"unknown driver {driver_id}: not registered "
                                                "with this network")
        return self.sessions.open(cp, driver_id, request_id, origin), True

    def send_start(self, session: Session) -> None:
        """start_charging_command (message_id = the request's) to the CP's Monitor."""
        cp = self.registry.get(session.cp_id)
        command = make(t.START_CHARGING_COMMAND, session.request_id, cp_id=session.cp_id,
                       session_id=session.session_id, driver_id=session.driver_id,
                       price_per_kwh=session.price_per_kwh,
                       max_charging_rate_kw=session.max_kw, timestamp=unix_time())
        if cp is None or not self.registry.send_to(cp, command):
            self.sessions.fail_start(session, "the charge point could not be reached")
            raise ChargeRefused(DISCONNECTED, f"{session.cp_id} could not be reached")

    def stop(self, cp_id: str, session_id: str, driver_id: str | None) -> Session:
        """Ask the CP to stop a session; the Engine's completion will finalise it."""
        if not driver_id:
            raise ChargeRefused(DRIVER_REQUIRED, "driver_id is required to stop a session")
        session = self.sessions.get(session_id)
        if session is None:
            raise ChargeRefused(UNKNOWN_SESSION, f"unknown session {session_id}")
        if session.driver_id != driver_id:
            raise ChargeRefused(NOT_YOUR_SESSION, f"session {session_id} is not yours")
        if session.cp_id != cp_id:
            raise ChargeRefused(UNKNOWN_SESSION, f"session {session_id} is not at {cp_id}")
        if not session.live:
            raise ChargeRefused(ALREADY_ENDED, f"session {session_id} has already ended "
                                               f"({session.reason})")
        cp = self.registry.get(cp_id)
        command = make(t.STOP_CHARGING_COMMAND, cp_id=cp_id, session_id=session_id,
                       reason=t.REASON_STOPPED, timestamp=unix_time())
        reachable = cp is not None and self.registry.is_connected(cp)
        if not reachable or not self.registry.send_to(cp, command):
            raise ChargeRefused(DISCONNECTED, f"{cp_id} is not connected to Central: the session"
                                              " ends when it comes back")
        return session
