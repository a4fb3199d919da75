"""The operator's manual_command: list, stop/resume CPs, close a session.

Refused unless Central was given an admin token (--admin-token-file or
EVCHARGE_ADMIN_TOKEN) and the command carries the same token (compared in
constant time). Wrong tokens are counted per address (Hub.throttle, key
"addr:HOST"): past a few, every attempt from that address waits before its
answer, whatever the answer, so guessing slows to one try every few seconds.
Not overall: a stranger's guesses must not slow the operators' own commands.
Every command and its result goes to the audit trail (`evcharge admin audit`).
"""
from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable

from evcentral import operations
from evcentral.audit import MAX_TEXT
from evcentral.auth_gate import address_of
from evcentral.config import Hub
from evcentral.dead_letters import recent as recent_dead_letters
from evcentral.registry import Channel, ChargePoint
from evcentral.relay import owner_elsewhere
from evcentral.replies import ok, refused
from evwire import types as t
from evwire.trace import log

ADMIN_TYPES = (t.MANUAL_COMMAND,)
# Carried out by the Central that holds the CP's Monitor (evcentral.relay).
ROUTED_COMMANDS = ("stop_cp", "resume_cp", "close_session")
RECENT_SESSIONS = 200
AUDIT_DEFAULT, AUDIT_MAX = 50, 1000  # entries `audit` returns


class AdminHandlers:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.registry = hub.registry
        self.sessions = hub.sessions
        self.commands: dict[str, Callable[[dict], dict]] = {
            "list_cps": self.list_cps,
            "sites": self.sites,
            "list_sessions": self.list_sessions,
            "stop_cp": self.stop_cp,
            "resume_cp": self.resume_cp,
            "stop_all": self.stop_all,
            "resume_all": self.resume_all,
            "close_session": self.close_session,
            "audit": self.audit,
            "dead_letters": self.dead_letters,
        }

    async def manual_command(self, msg: dict, channel: Channel) -> dict:
        address = address_of(channel)
        reply = await self._checked(msg, channel, address)
        if reply is None:
            channel.admin = True  # type: ignore[attr-defined]  # proved: no auth timeout
            command = self.commands.get(msg["command"])
            if command is None:
                known = ", ".join(self.commands)
                reply = refused(msg, f"unknown command '{msg['command']}' (one of: {known})",
                                reason="unknown_command")
            else:
                owner = owner_elsewhere(self.hub, channel, self._cp_of(msg)) \
                    if msg["command"] in ROUTED_COMMANDS else None
                if owner is not None:
                    reply = await self.hub.relay.forward(msg, channel, owner)  # type: ignore
                else:
                    reply = command(msg)
        self._audit(address, msg, reply)
        return reply

    async def _checked(self, msg: dict, channel: Channel, address: str) -> dict | None:
        """None if msg carries the admin token, else the refusal (after the throttle's wait)."""
        if getattr(channel, "relayed", False) and getattr(channel, "admin", False):
            return None  # routed by another Central of this database, which checked the token
        expected = self.hub.config.admin_token
        if not expected:
            return refused(msg, "admin commands are disabled: start Central with "
                                "--admin-token-file or EVCHARGE_ADMIN_TOKEN",
                           reason="admin_disabled")
        keys = (f"addr:{address}",)
        if not getattr(channel, "admin", False):
            # Before comparing: a guesser gets no answer, right or wrong, before the wait.
            wait = self.hub.throttle.delay(*keys)
            if wait > 0:
                await asyncio.sleep(wait)
        given = msg.get("token")
        given = given.encode() if isinstance(given, str) else b""
        if hmac.compare_digest(given, expected.encode()):
            return None
        if not given:  # not a guess, a client without a token: tell it how to give one
            return refused(msg, "no admin token given: use --admin-token-file PATH (mode "
                                "0600) or EVCHARGE_ADMIN_TOKEN", reason="missing_token")
        self.hub.throttle.failed(*keys)
        log("warning", f"manual_command {msg['command']} from {address} refused: "
                       "wrong admin token")
        return refused(msg, "wrong admin token", reason="bad_token")

    def _audit(self, address: str, msg: dict, reply: dict) -> None:
        target = " ".join(str(msg[k]) for k in ("cp_id", "session_id") if msg.get(k))
        action = f"{msg['command']} {target}".strip()
        if msg.get("reason"):
            action += f" (reason: {msg['reason']})"
        result = reply.get("status") or "error"
        if reply.get("reason"):
            result += f" ({reply['reason']})"
        detail = str(reply.get("message") or reply.get("error") or "")
        self.hub.audit.record(address, "admin", action[:MAX_TEXT], result, detail)

    # -- commands (each returns the manual_command_response) ------------------------
    def list_cps(self, msg: dict) -> dict:
        self.registry.refresh()
        data = [self._cp_row(cp) for _id, cp in sorted(self.registry.cps.items())]
        return ok(msg, message=f"{len(data)} charge point(s)", data=data)

    def sites(self, msg: dict) -> dict:
        data = operations.site_rows(self.hub)
        return ok(msg, message=f"{len(data)} site(s)", data=data)

    def list_sessions(self, msg: dict) -> dict:
        rows = self.sessions.store.recent(RECENT_SESSIONS)
        data = [self.sessions.live.get(row.session_id, row).summary() for row in rows]
        return ok(msg, message=f"{len(data)} session(s)", data=data)

    def stop_cp(self, msg: dict) -> dict:
        cp = self._named_cp(msg)
        if isinstance(cp, dict):
            return cp
        return ok(msg, message=self._stop(cp, msg.get("reason")), data=[cp.cp_id])

    def resume_cp(self, msg: dict) -> dict:
        cp = self._named_cp(msg)
        if isinstance(cp, dict):
            return cp
        return ok(msg, message=self._resume(cp), data=[cp.cp_id])

    def stop_all(self, msg: dict) -> dict:
        cps, text = operations.stop_all(self.hub, msg.get("reason"))
        return ok(msg, message=text, data=[cp.cp_id for cp in cps])

    def resume_all(self, msg: dict) -> dict:
        cps, text = operations.resume_all(self.hub)
        return ok(msg, message=text, data=[cp.cp_id for cp in cps])

    def close_session(self, msg: dict) -> dict:
        session_id = msg.get("session_id")
        if not session_id:
            return refused(msg, "close_session needs session_id", reason="missing_session_id")
        session = self.sessions.get(session_id)
        if session is None:
            return refused(msg, f"unknown session {session_id}", reason="unknown_session")
        if not session.live:
            return refused(msg, f"session {session_id} has already ended ({session.reason})",
                           reason="already_ended")
        cp = self.registry.get(session.cp_id)
        if (session.status == "active" and cp is not None and self.registry.is_connected(cp)):
            return refused(msg, f"session {session_id} is charging at a connected CP: stop the "
                                f"CP (stop {session.cp_id}) and its own completion will bill it",
                           reason="session_running")
        if not self.sessions.close_by_operator(session):
            return refused(msg, f"session {session_id} has already ended", reason="already_ended")
        closed = self.sessions.get(session_id)
        log("notice", f"session {session_id} closed by the operator at "
                      f"{session.energy_kwh:.3f} kWh")
        return ok(msg, message=f"session {session_id} closed with "
                                    f"{session.energy_kwh:.3f} kWh",
                       data=closed.summary() if closed else None)

    def dead_letters(self, msg: dict) -> dict:
        """Records Central set aside (dead_letters.py), newest first."""
        data = recent_dead_letters(self.hub.db)
        return ok(msg, message=f"{len(data)} dead letter(s)", data=data)

    def audit(self, msg: dict) -> dict:
        limit = msg.get("limit", AUDIT_DEFAULT)  # not in the catalogue: checked here
        if isinstance(limit, bool) or not isinstance(limit, int) or \
                not 1 <= limit <= AUDIT_MAX:
            return refused(msg, f"audit: limit must be an integer from 1 to {AUDIT_MAX}",
                           reason="bad_limit")
        entries = self.hub.audit.entries(limit)
        return ok(msg, message=f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}",
                  data=[entry.as_map() for entry in entries])

    # -- helpers ------------------------------------------------------------------------
    def _cp_of(self, msg: dict) -> str | None:
        """The CP a routed command is about (close_session: its session's)."""
        if msg.get("cp_id") or msg["command"] != "close_session" or not msg.get("session_id"):
            return msg.get("cp_id")
        session = self.sessions.get(msg["session_id"])
        return session.cp_id if session is not None else None

    def _named_cp(self, msg: dict) -> ChargePoint | dict:
        cp_id = msg.get("cp_id")
        if not cp_id:
            return refused(msg, f"{msg['command']} needs cp_id", reason="missing_cp_id")
        cp = self.registry.get(cp_id)
        if cp is None:
            return refused(msg, f"unknown charge point {cp_id}", reason="unknown_cp")
        return cp

    def _stop(self, cp: ChargePoint, reason: str | None) -> str:
        return operations.stop_cp(self.hub, cp, reason)

    def _resume(self, cp: ChargePoint) -> str:
        return operations.resume_cp(self.hub, cp)

    def _cp_row(self, cp: ChargePoint) -> dict:
        return operations.cp_row(self.hub, cp)
