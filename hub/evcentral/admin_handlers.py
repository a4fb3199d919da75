"""The operator's manual_command: list, stop/resume CPs, close a session.

Refused unless Central was given an admin token (--admin-token or
EVCHARGE_ADMIN_TOKEN) and the command carries the same token.
"""
from __future__ import annotations

import hmac
from collections.abc import Callable

from evcentral.config import Hub
from evcentral.driver_handlers import cp_map
from evcentral.registry import Channel, ChargePoint
from evcentral.replies import ok, refused
from evwire import make
from evwire import types as t
from evwire.compat import unix_time
from evwire.trace import log

ADMIN_TYPES = (t.MANUAL_COMMAND,)
RECENT_SESSIONS = 200


class AdminHandlers:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.registry = hub.registry
        self.sessions = hub.sessions
        self.commands: dict[str, Callable[[dict], dict]] = {
            "list_cps": self.list_cps,
            "list_sessions": self.list_sessions,
            "stop_cp": self.stop_cp,
            "resume_cp": self.resume_cp,
            "stop_all": self.stop_all,
            "resume_all": self.resume_all,
            "close_session": self.close_session,
        }

    async def manual_command(self, msg: dict, channel: Channel) -> dict:
        expected = self.hub.config.admin_token
        if not expected:
            return refused(msg, "admin commands are disabled: start Central with --admin-token "
                                "or EVCHARGE_ADMIN_TOKEN", reason="admin_disabled")
        given = msg.get("token") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            log("warning", f"manual_command {msg['command']} refused: wrong admin token")
            return refused(msg, "wrong admin token", reason="bad_token")
        command = self.commands.get(msg["command"])
        if command is None:
            known = ", ".join(self.commands)
            return refused(msg, f"unknown command '{msg['command']}' (one of: {known})",
                           reason="unknown_command")
        return command(msg)

    # -- commands (each returns the manual_command_response) ------------------------
    def list_cps(self, msg: dict) -> dict:
        self.registry.refresh()
        data = [self._cp_row(cp) for _id, cp in sorted(self.registry.cps.items())]
        return ok(msg, message=f"{len(data)} charge point(s)", data=data)

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
        self.registry.refresh()
        cps = [cp for _id, cp in sorted(self.registry.cps.items())]
        for cp in cps:
            self._stop(cp, msg.get("reason"))
        return ok(msg, message=f"{len(cps)} charge point(s) stopped",
                       data=[cp.cp_id for cp in cps])

    def resume_all(self, msg: dict) -> dict:
        self.registry.refresh()
        cps = [cp for _id, cp in sorted(self.registry.cps.items())]
        for cp in cps:
            self._resume(cp)
        return ok(msg, message=f"{len(cps)} charge point(s) resumed",
                       data=[cp.cp_id for cp in cps])

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

    # -- helpers ------------------------------------------------------------------------
    def _named_cp(self, msg: dict) -> ChargePoint | dict:
        cp_id = msg.get("cp_id")
        if not cp_id:
            return refused(msg, f"{msg['command']} needs cp_id", reason="missing_cp_id")
        cp = self.registry.get(cp_id)
        if cp is None:
            return refused(msg, f"unknown charge point {cp_id}", reason="unknown_cp")
        return cp

    def _stop(self, cp: ChargePoint, reason: str | None) -> str:
        self.hub.db.set_cp_stopped(cp.cp_id, True, reason)
        cp.stopped, cp.stop_reason = True, reason
        self.sessions.tell_operator_stop(cp, reason)
        sent = self.registry.send_to(cp, make(t.STOP_CP_COMMAND, cp_id=cp.cp_id, reason=reason,
                                              timestamp=unix_time()))
        self.registry.note(cp, "operator stop")
        if sent:
            return f"{cp.cp_id} stopped"
        return f"{cp.cp_id} stopped (not connected: told when its Monitor reconnects)"

    def _resume(self, cp: ChargePoint) -> str:
        self.hub.db.set_cp_stopped(cp.cp_id, False, None)
        cp.stopped, cp.stop_reason = False, None
        sent = self.registry.send_to(cp, make(t.RESUME_CP_COMMAND, cp_id=cp.cp_id,
                                              timestamp=unix_time()))
        self.registry.note(cp, "operator resume")
        return f"{cp.cp_id} resumed" + ("" if sent else " (not connected)")

    def _cp_row(self, cp: ChargePoint) -> dict:
        row = cp_map(self.hub, cp)
        row.update(stop_reason=cp.stop_reason, fault_type=cp.fault_type, session=None)
        if cp.session is not None:
            s = cp.session
            row["session"] = {
                "session_id": s.session_id, "driver_id": s.driver_id, "status": s.status,
                "charging_rate": round(s.rate_kw, 2), "energy_consumed_kwh": round(s.energy_kwh, 3),
                "total_cost": round(s.cost, 2), "started_at": s.started_at,
                "waiting_for_vehicle": cp.waiting_for_vehicle == s.session_id,
            }
        return row
