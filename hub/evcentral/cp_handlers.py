"""What a charge point's Monitor sends Central, one handler per message type.

A Monitor's connection must start with a successful auth_request; every
later message must name the authenticated cp_id. Notifications are one-way
(no reply), as the seed designed them.
"""
from __future__ import annotations

from evcentral.auth import BAD_CREDENTIALS, BAD_CREDENTIALS_TEXT, CP, AuthFailure
from evcentral.auth_gate import authenticate
from evcentral.auth_lists import AuthLists
from evcentral.charging import ChargeDesk, ChargeRefused
from evcentral.config import Hub
from evcentral.list_pushes import ListPushes
from evcentral.registry import Channel, ChargePoint
from evcentral.replies import ok, refused
from evcentral.session_store import Session
from evwire import make
from evwire import types as t
from evwire.compat import unix_time
from evwire.errors import RejectedError
from evwire.trace import log

MONITOR_TYPES = (
    t.AUTH_REQUEST, t.REGISTER_REQUEST, t.HEARTBEAT_REQUEST, t.STATUS_UPDATE,
    t.FAULT_NOTIFICATION, t.RECOVERY_NOTIFICATION, t.COMMAND_RESPONSE, t.ERROR_RESPONSE,
    t.LOCAL_CHARGE_REQUEST,
)


class CpHandlers:
    def __init__(self, hub: Hub, desk: ChargeDesk):
        self.hub = hub
        self.registry = hub.registry
        self.sessions = hub.sessions
        self.desk = desk
        self.auth_lists = AuthLists(hub)  # the Monitors' offline authorisation lists
        self.list_pushes = ListPushes(self.auth_lists, hub.registry,
                                      rate=hub.config.auth_list_rate)

    def _cp_of(self, msg: dict, channel: Channel) -> ChargePoint:
        """The authenticated CP this message is about; RejectedError otherwise."""
        if channel.cp_id is None:
            raise RejectedError(f"{msg['type']}: not authenticated, send auth_request first")
        named = msg.get("cp_id")
        if named is not None and named != channel.cp_id:
            raise RejectedError(f"{msg['type']}: this connection is authenticated as "
                                f"{channel.cp_id}, not {named}")
        cp = self.registry.get(channel.cp_id)
        if cp is None:
            raise RejectedError(f"{channel.cp_id} is no longer provisioned at Central")
        return cp

    async def auth_request(self, msg: dict, channel: Channel) -> dict | None:
        # The boundary sends an auth_request naming driver_id to DriverHandlers.
        try:
            cp_id = await authenticate(self.hub, CP, msg["cp_id"], msg, channel)
        except AuthFailure as denial:
            channel.send(refused(msg, str(denial), reason=denial.reason))
            channel.close(f"authentication failed ({denial.reason})")
            return None
        cp = self.registry.get(cp_id)
        if cp is None:  # removed between the secret lookup and now: as if unknown
            channel.send(refused(msg, BAD_CREDENTIALS_TEXT, reason=BAD_CREDENTIALS))
            channel.close(f"authentication failed ({BAD_CREDENTIALS})")
            return None
        if channel.cp_id is not None and channel.cp_id != cp_id:
            self.registry.detach(channel)  # one connection speaks for one CP at a time
        channel.cp_id = cp_id
        self.registry.attach(cp, channel)
        log("info", f"{cp_id} authenticated")
        return ok(msg, message=f"authenticated as {cp_id}")

    async def register_request(self, msg: dict, channel: Channel) -> dict:
        if channel.cp_id is None:
            return refused(msg, "authenticate first: send auth_request before register_request",
                           reason="not_authenticated")
        if msg["cp_id"] != channel.cp_id:
            return refused(msg, f"this connection is authenticated as {channel.cp_id}, "
                                f"not {msg['cp_id']}", reason="cp_mismatch")
        max_kw = msg["max_charging_rate_kw"]
        if max_kw <= 0:
            return refused(msg, "max_charging_rate_kw must be positive", reason="invalid_max_kw")
        cp = self._cp_of(msg, channel)
        location = msg.get("location") or None
        cp.max_kw = self.hub.db.set_cp_registration(cp.cp_id, location, float(max_kw))
        cp.location = location or cp.location
        cp.registered = True
        self.registry.note(cp, "registered")
        self._announced(cp, msg)
        return ok(msg, message=f"{cp.cp_id} registered", reason=None,
                       cp_status=self.registry.status_of(cp),
                       price_per_kwh=self.registry.price_of(cp))

    async def heartbeat_request(self, msg: dict, channel: Channel) -> dict:
        cp = self._cp_of(msg, channel)
        self.registry.report(cp, msg["status"])
        if not cp.synced:
            cp.synced = True
            self._sync_operator_state(cp, msg["status"])
        session_id = msg.get("session_id")
        if msg["status"] == t.CP_CHARGING and session_id:
            session = self.sessions.live.get(session_id)
            if session is not None and session.cp_id == cp.cp_id:
                self.sessions.confirm(session)  # e.g. Central restarted mid-session
        reply = make(t.HEARTBEAT_RESPONSE, msg["message_id"], status=t.SUCCESS,
                     cp_status=self.registry.status_of(cp))
        self._announced(cp, msg)
        limit = self.hub.sites.limit_of(cp.cp_id) if self.hub.sites else None
        if limit is not None:  # the Monitor renews it to the Engine while beats are answered
            reply["limit_kw"] = limit
        return reply

    async def status_update(self, msg: dict, channel: Channel) -> None:
        cp = self._cp_of(msg, channel)
        self.registry.report(cp, msg["status"])

    async def fault_notification(self, msg: dict, channel: Channel) -> None:
        cp = self._cp_of(msg, channel)
        cp.faulted = True
        cp.fault_type = msg["fault_type"]
        self.registry.note(cp, msg["fault_type"])
        self.sessions.interrupt(cp, msg["fault_type"])

    async def recovery_notification(self, msg: dict, channel: Channel) -> None:
        cp = self._cp_of(msg, channel)
        cp.faulted = False
        cp.fault_type = None
        self.registry.note(cp, "recovered")

    async def command_response(self, msg: dict, channel: Channel) -> None:
        cp = self._cp_of(msg, channel)
        command = msg.get("command")
        session = self._session_of(msg, cp)
        if command is None and session is not None and session.request_id == msg["message_id"]:
            command = t.START_CHARGING_COMMAND  # start commands reuse the request's id
        outcome = f"{msg['status']}: {msg['message']}"
        log("info", f"{cp.cp_id} {command or 'command'} id={msg['message_id']} -> {outcome}")
        if command != t.START_CHARGING_COMMAND or session is None or not session.live:
            return
        if msg["status"] == t.SUCCESS:
            self.sessions.confirm(session)
            if msg.get("waiting_for_vehicle"):
                self.sessions.vehicle_awaited(session, msg["message"])
        else:
            self.sessions.fail_start(session, msg.get("message") or msg.get("error") or "failed")

    async def error_response(self, msg: dict, channel: Channel) -> None:
        cp = self._cp_of(msg, channel)
        log("warning", f"{cp.cp_id} reports an error for id={msg['message_id']}: {msg['error']}")
        session = self.sessions.by_request(msg["message_id"])
        if session is not None and session.live and session.status == "starting":
            self.sessions.fail_start(session, msg["error"])

    async def local_charge_request(self, msg: dict, channel: Channel) -> None:
        """Walk-up request at the CP: answered through the Monitor, then the usual start."""
        cp = self._cp_of(msg, channel)
        reply = dict(cp_id=cp.cp_id, session_id=None, driver_id=msg.get("driver_id"))
        driver_id = msg.get("driver_id")
        card_uid = msg.get("card_uid")
        if not driver_id and card_uid:
            driver = self.hub.db.driver_by_card(card_uid)
            if driver is None:
                channel.send(refused(msg, f"unknown card {card_uid}", reason="unknown_driver",
                                     **reply))
                return
            driver_id = reply["driver_id"] = driver.driver_id
        if not driver_id:
            channel.send(refused(msg, "driver_id or card_uid is required", reason="no_driver",
                                 **reply))
            return
        try:
            session, is_new = self.desk.open(cp.cp_id, driver_id, msg["message_id"], "local")
        except ChargeRefused as denial:
            channel.send(refused(msg, str(denial), reason=denial.reason, **reply))
            return
        reply["session_id"] = session.session_id
        channel.send(ok(msg, message=f"charging authorised for {driver_id}", **reply))
        if is_new:
            try:
                self.desk.send_start(session)
            except ChargeRefused as denial:
                log("warning", f"walk-up session {session.session_id}: {denial}")

    def _announced(self, cp: ChargePoint, msg: dict) -> None:
        """The Monitor said which offline list it holds: the current one follows (after
        this reply) if it differs."""
        self.list_pushes.announced(cp, msg.get("auth_list_version"))

    def _sync_operator_state(self, cp: ChargePoint, reported: str) -> None:
        """An operator may have stopped or resumed the CP while its Monitor was away:
        tell it once, so that a session still running on a stopped CP ends."""
        if cp.stopped and reported != t.CP_STOPPED:
            self.registry.send_to(cp, make(t.STOP_CP_COMMAND, cp_id=cp.cp_id,
                                           reason=cp.stop_reason, timestamp=unix_time()))
        elif not cp.stopped and reported == t.CP_STOPPED:
            self.registry.send_to(cp, make(t.RESUME_CP_COMMAND, cp_id=cp.cp_id,
                                           timestamp=unix_time()))

    def _session_of(self, msg: dict, cp: ChargePoint) -> Session | None:
        session_id = msg.get("session_id")
        session = self.sessions.get(session_id) if session_id else None
        if session is None:
            session = self.sessions.by_request(msg["message_id"])
        if session is not None and session.cp_id != cp.cp_id:
            return None
        return session
