"""What the Engine sends the Monitor: one handler per message type, named after it."""
from __future__ import annotations

from typing import Protocol

from evmonitor.framed import WireMessage
from evmonitor.station import Station
from evmonitor.status import FAULT_UNSPECIFIED
from evwire import types as t

ACCEPTS = (t.HEALTH_CHECK_RESPONSE, t.COMMAND_RESPONSE, t.CHARGING_DATA, t.CHARGE_COMPLETION,
           t.ERROR_RESPONSE, t.LOCAL_CHARGE_REQUEST)


class HealthWatch(Protocol):
    def health_answered(self, message_id: str) -> None: ...


class EngineHandlers:
    def __init__(self, station: Station, health: HealthWatch):
        self.station = station
        self.health = health

    def health_check_response(self, msg: WireMessage) -> None:
        self.health.health_answered(msg["message_id"])
        if msg["engine_status"] == t.ENGINE_OK:
            self.station.engine_healthy(msg)
        else:
            self.station.engine_fault(msg.get("fault_type") or FAULT_UNSPECIFIED,
                                      msg.get("message") or "the Engine reports KO")

    def command_response(self, msg: WireMessage) -> None:
        self.station.command_answered(msg)

    def error_response(self, msg: WireMessage) -> None:
        self.station.command_errored(msg)

    def charging_data(self, msg: WireMessage) -> None:
        if self.station.store_telemetry(msg, msg.payload):
            self.station.cp.live_data(msg)
            self.station.report_status()

    def charge_completion(self, msg: WireMessage) -> None:
        # Not stored -> not acked: the Engine keeps it and sends it again.
        if self.station.store_telemetry(msg, msg.payload):
            self.station.session_completed(msg)

    def local_charge_request(self, msg: WireMessage) -> dict | None:
        """A walk-up request at the CP: Central decides; without Central (or its answer in
        time), the offline authorisation list does (evmonitor.offline)."""
        self.station.check_cp_id(msg)
        return self.station.offline.walk_up(msg)
