"""The charge point's behaviour: what the Monitor does with what its peers say.

Handlers (one method per message type) call into the Station; the Station
changes the ChargePoint state and tells Central and the Engine what follows:
faults and recoveries, status changes, command outcomes, telemetry acks.
"""
from __future__ import annotations

from collections import deque
from typing import Protocol

from evmonitor.commands import PendingCommand, PendingCommands
from evmonitor.config import MonitorConfig
from evmonitor.limits import LimitRelay
from evmonitor.offline import OfflineCharging
from evmonitor.outbox import Outbox, OutboxError
from evmonitor.status import ENGINE_UNKNOWN, FAULT_UNREACHABLE, ChargePoint
from evwire import make, make_timestamped
from evwire import types as t
from evwire.errors import RejectedError
from evwire.trace import log

ENGINE_UNREACHABLE_TEXT = "engine unreachable"
OPERATOR_STOPPED_TEXT = "charge point stopped by operator"
GIVEN_UP_KEPT = 32  # failed starts remembered (a few a day at most on one charge point)


class Sender(Protocol):
    def send(self, msg: dict) -> bool: ...


class Forwarder(Protocol):
    sent_upto: int

    def wake(self) -> None: ...


class Station:
    def __init__(self, cfg: MonitorConfig, outbox: Outbox, forwarder: Forwarder | None = None):
        self.cfg = cfg
        self.cp = ChargePoint(cfg.cp_id)
        self.outbox = outbox
        self.forwarder = forwarder
        self.pending = PendingCommands(cfg.command_timeout)
        self.engine: Sender | None = None  # set by the daemon to the EngineLink
        self.central: Sender | None = None  # the CentralLink (sends only once registered)
        self.startup_grace = True
        self.reported_status: str | None = None
        self.limits = LimitRelay(cfg.cp_id, cfg.heartbeat_interval, self._renew_limit)
        # Sessions whose start this Monitor reported failed without the Engine's answer
        # (timed out, link lost): if the Engine runs one late, it is stopped at once.
        self.given_up: deque[str] = deque(maxlen=GIVEN_UP_KEPT)
        # Walk-ups while no Central answers: the offline list and its sessions.
        self.offline = OfflineCharging(self)

    # --- sending -----------------------------------------------------------------
    def to_engine(self, msg: dict) -> bool:
        return self.engine is not None and self.engine.send(msg)

    def to_central(self, msg: dict) -> bool:
        return self.central is not None and self.central.send(msg)

    def check_cp_id(self, msg: dict) -> None:
        if msg.get("cp_id", self.cfg.cp_id) != self.cfg.cp_id:
            raise RejectedError(f"{msg['type']} is for charge point '{msg['cp_id']}', "
                                f"this Monitor is '{self.cfg.cp_id}'")

    # --- status ------------------------------------------------------------------
    def report_status(self, force: bool = False) -> None:
        """Send status_update when the status Central should see has changed."""
        status = self.cp.status
        changed = status != self.reported_status
        if not changed and not force:
            return
        if changed:
            log("info", f"charge point {self.cfg.cp_id} is now {status}")
        self.reported_status = status
        reason = self.cp.fault_type if status == t.CP_FAULTED else None
        # Not registered with Central right now: central_registered() re-sends it.
        self.to_central(make_timestamped(t.STATUS_UPDATE, cp_id=self.cfg.cp_id, status=status,
                                         reason=reason))

    def central_registered(self, cp_status: str | None) -> None:
        """After (re-)registering: adopt Central's STOPPED, then re-send our status."""
        if cp_status is not None:
            stopped = cp_status == t.CP_STOPPED
            if stopped != self.cp.operator_stopped:
                log("info", f"Central says the charge point is {cp_status}: adopting "
                            f"{'STOPPED' if stopped else 'in service'}")
            self.cp.operator_stopped = stopped
        self.report_status(force=True)

    # --- Engine health ---------------------------------------------------------------
    def engine_healthy(self, response: dict) -> None:
        was_unknown = self.cp.engine == ENGINE_UNKNOWN
        if self.cp.engine_ok():
            log("info", "engine healthy again: recovery reported")
            self.to_central(make_timestamped(t.RECOVERY_NOTIFICATION, cp_id=self.cfg.cp_id))
        elif was_unknown:
            log("info", "engine healthy")
        self._adopt_engine_session(response)
        self.report_status()

    def _adopt_engine_session(self, response: dict) -> None:
        # After a Monitor restart the Engine may be mid-session: learn it from the answer.
        session_id = response.get("session_id")
        busy = response.get("is_charging") or response.get("waiting_for_vehicle")
        if busy and session_id and self.cp.session is None:
            self.cp.open_session(session_id)
            log("info", f"engine reports session {session_id} in progress: adopted")
            if session_id in self.given_up:
                self._cancel_start(session_id)

    def engine_fault(self, fault_type: str, text: str) -> None:
        if self.cp.engine_failed(fault_type, text):
            log("warning", f"engine fault: {fault_type} ({text}); charge point FAULTED")
            self.to_central(make_timestamped(
                t.FAULT_NOTIFICATION, cp_id=self.cfg.cp_id, fault_type=fault_type,
                session_id=self.cp.session_id, message=text))
        self.report_status()

    def engine_unreachable(self, text: str) -> None:
        if self.startup_grace and self.cp.engine == ENGINE_UNKNOWN:
            return  # the Engine may still be booting: end_startup_grace() decides
        self.fail_pending(ENGINE_UNREACHABLE_TEXT)
        self.engine_fault(FAULT_UNREACHABLE, text)

    def end_startup_grace(self) -> None:
        self.startup_grace = False
        if self.cp.engine == ENGINE_UNKNOWN:
            self.engine_fault(FAULT_UNREACHABLE, "no answer from the Engine since start-up")

    # --- commands ----------------------------------------------------------------------
    def command_response(self, command: dict, ok: bool, text: str, **extra: object) -> dict:
        fields = {"cp_id": self.cfg.cp_id, "session_id": command.get("session_id"),
                  "command": command["type"], "status": t.SUCCESS if ok else t.FAILURE,
                  "message": text}
        if not ok:
            fields["error"] = text
        fields.update(extra)
        return make(t.COMMAND_RESPONSE, command["message_id"], **fields)

    def forward_command(self, command: dict) -> dict | None:
        """A start/stop from Central: pass it on, or answer at once why not."""
        self.check_cp_id(command)
        if command["type"] == t.START_CHARGING_COMMAND and self.cp.operator_stopped:
            return self.command_response(command, False, OPERATOR_STOPPED_TEXT)
        if not self.to_engine(command):
            return self.command_response(command, False, ENGINE_UNREACHABLE_TEXT)
        for evicted in self.pending.add(command):
            self._command_failed(evicted, "too many commands waiting for the engine")
        return None

    def set_charging_limit(self, command: dict) -> dict | None:
        """Central's new limit for this CP: to the Engine at once, renewed later."""
        self.check_cp_id(command)
        self.limits.from_central(command)
        return self.forward_command(command)

    def _renew_limit(self, msg: dict) -> bool:
        # The Engine's confirmation is matched and dropped: Central did not ask.
        if not self.to_engine(msg):
            return False
        for evicted in self.pending.add(msg, relay_to_central=False):
            self._command_failed(evicted, "too many commands waiting for the engine")
        return True

    def command_answered(self, response: dict) -> None:
        entry = self.pending.pop(response["message_id"])
        if entry is not None and not entry.relay_to_central \
                and entry.command == t.SET_CHARGING_LIMIT and response["status"] == t.SUCCESS:
            return  # a renewal the Engine took: every few seconds, not worth a log line
        if entry is None:
            log("warning", f"engine command_response id={response['message_id']} matches no "
                           f"waiting command (late or unknown): ignored")
            if response.get("session_id") in self.given_up \
                    and response.get("command") == t.START_CHARGING_COMMAND \
                    and response["status"] == t.SUCCESS:
                self._cancel_start(response["session_id"])
            return
        ok = response["status"] == t.SUCCESS
        text = response.get("message") or response.get("error") or response["status"]
        session_id = response.get("session_id") or entry.session_id
        log("info" if ok else "warning",
            f"engine answered {entry.command} id={entry.message_id} session={session_id}: "
            f"{response['status']} ({text})")
        if entry.command == t.START_CHARGING_COMMAND:
            if ok:
                session = self.cp.open_session(session_id, entry.request.get("driver_id", ""),
                                               entry.request.get("price_per_kwh"))
                session.waiting_for_vehicle = bool(response.get("waiting_for_vehicle"))
            else:
                self.cp.close_session(session_id)
        extra = {"session_id": session_id}
        if "waiting_for_vehicle" in response:
            extra["waiting_for_vehicle"] = response["waiting_for_vehicle"]
        if entry.relay_to_central:
            self.to_central(self.command_response(entry.request, ok, text, **extra))
        self.report_status()

    def command_errored(self, error: dict) -> None:
        entry = self.pending.pop(error["message_id"])
        code = error.get("code", "")
        if entry is None:
            log("warning", f"engine error_response id={error['message_id']} "
                           f"({error.get('request_type') or 'unknown request'}): "
                           f"{error['error']} {code}".rstrip())
            return
        self._command_failed(entry, f"engine error: {error['error']}", engine_answered=True)

    def _command_failed(self, entry: PendingCommand, text: str,
                        engine_answered: bool = False) -> None:
        log("warning", f"{entry.command} id={entry.message_id} failed: {text}")
        if entry.command == t.START_CHARGING_COMMAND and entry.session_id:
            self.cp.close_session(entry.session_id)
            if not engine_answered:  # it may still run the start: see _cancel_start
                self.given_up.append(entry.session_id)
                self._cancel_start(entry.session_id)
        if entry.relay_to_central:
            self.to_central(self.command_response(entry.request, False, text))
        self.report_status()

    def expire_commands(self) -> None:
        for entry in self.pending.expired():
            self._command_failed(entry, f"engine did not answer within "
                                        f"{self.cfg.command_timeout:g} s")

    def _cancel_start(self, session_id: str) -> None:
        """Central was told the start failed; a frozen or slow Engine may still run it
        later (the command waits in its socket). A stop queued right behind it ends
        that session before it charges; one that did charge meanwhile is stopped as
        soon as the Engine reports it (late answer, or the session it reports after a
        reconnect). What it charged is billed by Central and the driver's failed-start
        ticket corrected (chaos --seed 801309 --case 2)."""
        stop = make_timestamped(t.STOP_CHARGING_COMMAND, cp_id=self.cfg.cp_id,
                                session_id=session_id, reason=t.REASON_START_FAILED)
        if self.to_engine(stop):
            for evicted in self.pending.add(stop, relay_to_central=False):
                self._command_failed(evicted, "too many commands waiting for the engine")
            log("info", f"session {session_id}: stop sent behind its failed start, in "
                        "case the engine runs it late")

    def fail_pending(self, text: str) -> None:
        for entry in self.pending.drain():
            self._command_failed(entry, text)

    def stop_cp(self, command: dict) -> dict:
        self.check_cp_id(command)
        self.cp.operator_stopped = True
        session_id = self.cp.session_id
        text = "charge point stopped"
        if session_id is not None:
            stop = make_timestamped(t.STOP_CHARGING_COMMAND, cp_id=self.cfg.cp_id,
                                    session_id=session_id, reason=t.REASON_CP_STOPPED)
            if self.to_engine(stop):
                self.pending.add(stop, relay_to_central=False)
                text += f"; ending session {session_id}"
            else:
                text += f"; engine unreachable, session {session_id} ends when it returns"
        log("info", f"operator stop ({command.get('reason') or 'no reason given'}): {text}")
        self.report_status()
        return self.command_response(command, True, text, session_id=session_id)

    def resume_cp(self, command: dict) -> dict:
        self.check_cp_id(command)
        self.cp.operator_stopped = False
        log("info", "operator resume: charge point back in service")
        self.report_status()
        return self.command_response(command, True, "charge point resumed",
                                     session_id=self.cp.session_id)

    # --- telemetry -----------------------------------------------------------------------
    def store_telemetry(self, msg: dict, payload: bytes) -> bool:
        """Outbox first; False (and nothing else done) if the write failed."""
        self.check_cp_id(msg)
        msg, payload = self.offline.mark(msg, payload)  # an offline session's: marked
        try:
            self.outbox.add(msg, payload)
            self.outbox.thin(self.forwarder.sent_upto if self.forwarder else 0)
        except OutboxError as exc:
            log("error", f"{msg['type']} id={msg['message_id']} not stored: {exc}")
            return False
        if self.forwarder is not None:
            self.forwarder.wake()
        return True

    def session_completed(self, completion: dict) -> None:
        self.to_engine(make(t.CHARGE_COMPLETION_ACK, completion["message_id"],
                            session_id=completion["session_id"], cp_id=self.cfg.cp_id))
        self.cp.close_session(completion["session_id"])
        log("info", f"session {completion['session_id']} completed: "
                    f"{completion['energy_consumed_kwh']} kWh, {completion['total_cost']} "
                    f"({completion.get('reason', 'no reason given')}); stored and acked")
        self.report_status()
