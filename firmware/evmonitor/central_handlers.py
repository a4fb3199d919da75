"""What Central sends the Monitor: one handler per message type, named after it."""
from __future__ import annotations

from typing import Protocol

from evmonitor.station import Station
from evwire import types as t
from evwire.trace import log

ACCEPTS = (t.AUTH_RESPONSE, t.REGISTER_RESPONSE, t.HEARTBEAT_RESPONSE,
           t.START_CHARGING_COMMAND, t.STOP_CHARGING_COMMAND, t.STOP_CP_COMMAND,
           t.RESUME_CP_COMMAND, t.LOCAL_CHARGE_RESPONSE, t.SET_CHARGING_LIMIT, t.ERROR_RESPONSE,
           t.LOCAL_AUTH_LIST)


class Handshake(Protocol):
    def handshake_answer(self, msg: dict) -> bool: ...

    def heartbeat_answered(self, msg: dict) -> None: ...


class CentralHandlers:
    def __init__(self, station: Station, link: Handshake):
        self.station = station
        self.link = link

    def auth_response(self, msg: dict) -> None:
        if not self.link.handshake_answer(msg):
            log("warning", f"auth_response id={msg['message_id']} outside the handshake: ignored")

    def register_response(self, msg: dict) -> None:
        if not self.link.handshake_answer(msg):
            log("warning", f"register_response id={msg['message_id']} outside the handshake: "
                           f"ignored")

    def heartbeat_response(self, msg: dict) -> None:
        self.link.heartbeat_answered(msg)
        if msg.get("status") == t.SUCCESS:
            self.station.limits.heartbeat(msg)
        # Central is the authority for STOPPED; un-stopping comes only by resume_cp_command.
        if msg.get("cp_status") == t.CP_STOPPED and not self.station.cp.operator_stopped:
            log("info", "Central shows the charge point STOPPED: adopting it")
            self.station.cp.operator_stopped = True
            self.station.report_status()

    def start_charging_command(self, msg: dict) -> dict | None:
        return self.station.forward_command(msg)

    def stop_charging_command(self, msg: dict) -> dict | None:
        return self.station.forward_command(msg)

    def set_charging_limit(self, msg: dict) -> dict | None:
        return self.station.set_charging_limit(msg)

    def stop_cp_command(self, msg: dict) -> dict:
        return self.station.stop_cp(msg)

    def resume_cp_command(self, msg: dict) -> dict:
        return self.station.resume_cp(msg)

    def local_charge_response(self, msg: dict) -> None:
        self.station.check_cp_id(msg)
        if not self.station.offline.central_answered(msg):
            return  # too late: the Monitor decided offline meanwhile
        if not self.station.to_engine(msg):
            log("warning", f"local_charge_response id={msg['message_id']} not delivered: "
                           f"engine unreachable")

    def local_auth_list(self, msg: dict) -> None:
        self.station.offline.list_page(msg)

    def error_response(self, msg: dict) -> None:
        if self.link.handshake_answer(msg):
            return
        log("warning", f"Central error_response id={msg['message_id']} "
                       f"({msg.get('request_type') or 'unknown request'}): {msg['error']}")
