"""One OCPP 1.6J charge point's WebSocket, as a Central Channel.

Built on the ocpp package's ChargePoint (schema validation, CALLERROR for a
payload that breaks the schema or an action nobody handles). Central's
commands (start/stop charging, stop/resume CP) arrive through send() like a
Monitor's, are queued (bounded) and sent as OCPP calls one at a time, as
OCPP-J requires. Every frame received and every pong keep the CP alive in the
Registry: a silent charger is DISCONNECTED after --heartbeat-timeout.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ocpp import messages as ocpp_messages
from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityType,
    DataTransferStatus,
    RegistrationStatus,
    RemoteStartStopStatus,
)
from websockets.exceptions import ConnectionClosed

from evocpp import frames
from evocpp.meter import now_iso
from evocpp.status import apply_status
from evwire.trace import log

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from evocpp.transactions import OcppCharging

PROTOCOL = "ocpp1.6"
COMMAND_QUEUE = 32  # commands waiting for this charger; more: send() says unreachable
CALL_TIMEOUT_S = 15.0

# Schema validation on the event loop: a small OCPP payload validates in well under a
# millisecond, less than the package's default hop to a worker thread and back costs
# (tools/bench_ocpp.py, 1,000 chargers: MeterValues p99 177 ms -> 15 ms, CPU 21% -> 17%).
ocpp_messages.ASYNC_VALIDATION = False

_quiet = logging.getLogger("evocpp.ocpp")  # the package logs frames (idTags) and tracebacks
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


class OcppLink(OcppChargePoint):
    role: str | None = "cp"
    protocol = "ocpp"

    def __init__(self, cp_id: str, ws: ServerConnection, charging: OcppCharging,
                 heartbeat_interval: int):
        super().__init__(cp_id, ws, response_timeout=CALL_TIMEOUT_S, logger=_quiet)
        self.cp_id: str | None = cp_id
        self.ws = ws
        self.peer = "{}:{}".format(*ws.remote_address[:2]) if ws.remote_address else "unknown"
        self.charging = charging
        self.heartbeat_interval = heartbeat_interval
        self.last_message = time.monotonic()
        self.commands: asyncio.Queue[dict] = asyncio.Queue(COMMAND_QUEUE)
        self.in_flight: str | None = None  # unique id of the call awaiting its result
        self._calls = 0
        self._closing: asyncio.Future | None = None  # referenced until done

    # -- Channel ------------------------------------------------------------------------
    def send(self, msg: dict) -> bool:
        try:
            self.commands.put_nowait(msg)
        except asyncio.QueueFull:
            log("warning", f"{self.id}: {COMMAND_QUEUE} commands waiting: "
                           f"{msg['type']} not sent")
            return False
        return True

    def close(self, reason: str) -> None:
        log("info", f"{self.id}: closing the OCPP connection ({reason})")
        self._closing = asyncio.ensure_future(self.ws.close(1000, reason[:100]))

    # -- serving --------------------------------------------------------------------------
    async def serve(self) -> None:
        """Receive until the socket closes; every bad frame costs that frame only."""
        sender = asyncio.create_task(self._send_commands())
        try:
            async for raw in self.ws:
                self.last_message = time.monotonic()
                await self._one(raw)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()

    async def _one(self, raw: str | bytes) -> None:
        try:
            frame = frames.check(raw)
        except frames.BadFrame as bad:
            log("warning", f"{self.id}: bad frame answered with {bad.code}: {bad}")
            await self.ws.send(frames.call_error(bad.unique_id, bad.code, str(bad)))
            return
        if frame[0] != frames.CALL:
            if not frames.result_ok(frame) or frame[1] != self.in_flight:
                log("warning", f"{self.id}: dropped a result that answers no call of ours")
                return
            if frame[0] == frames.CALLERROR:
                log("warning", f"{self.id}: CALLERROR {frame[2]} for our call: {frame[3]!r}")
        try:
            await self.route_message(raw)
        except ConnectionClosed:
            raise
        except Exception as exc:  # a handler's bug costs this message, not the connection
            log("error", f"{self.id}: {frame[2] if frame[0] == frames.CALL else 'result'}"
                         f" failed: {exc!r}")
            if frame[0] == frames.CALL:
                await self.ws.send(frames.call_error(frame[1], "InternalError",
                                                     "the central system failed on this call"))

    async def _send(self, message: str) -> None:
        """Every frame out; the ocpp package's CALLERRORs (schema, unknown action) logged."""
        if message.startswith("[4,"):
            log("warning", f"{self.id}: answered with CALLERROR {message[:160]}")
        await self.ws.send(message)

    async def ocpp_call(self, payload):
        """An OCPP call and its result (None after a CALLERROR or a timeout)."""
        self._calls += 1
        unique_id = f"c{self._calls}"
        self.in_flight = unique_id
        try:
            return await self.call(payload, unique_id=unique_id)
        except TimeoutError:
            log("warning", f"{self.id}: no answer to {type(payload).__name__} in "
                           f"{CALL_TIMEOUT_S:g} s")
            return None
        finally:
            self.in_flight = None

    async def _send_commands(self) -> None:
        while True:
            msg = await self.commands.get()
            try:
                await self.charging.command(self, msg)
            except ConnectionClosed:
                return
            except Exception as exc:
                log("error", f"{self.id}: {msg['type']} failed: {exc!r}")

    async def keepalive(self, every: float, idle: float) -> None:
        """WebSocket pings: a pong keeps the CP alive between its Heartbeats. A charger
        silent for `idle` seconds (Central's --idle-timeout) loses its socket."""
        while True:
            await asyncio.sleep(every)
            if time.monotonic() - self.last_message > idle:
                self.close(f"silent for {idle:g} s")
                return
            try:
                pong = await self.ws.ping()
                await asyncio.wait_for(pong, every * 2)
                self.last_message = time.monotonic()
            except (TimeoutError, ConnectionClosed):
                continue

    # -- calls from the charger ------------------------------------------------------------
    @on(Action.boot_notification)
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **extra):
        self.charging.booted(self, f"{charge_point_vendor} {charge_point_model}")
        return call_result.BootNotification(current_time=now_iso(),
                                            interval=self.heartbeat_interval,
                                            status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        return call_result.Heartbeat(current_time=now_iso())

    @on(Action.status_notification)
    async def on_status(self, connector_id: int, error_code: str, status: str, **extra):
        apply_status(self.charging.hub, self.id, connector_id, status, error_code, extra)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str):
        return call_result.Authorize(id_tag_info=self.charging.authorize(id_tag))

    @on(Action.start_transaction)
    async def on_start(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
                       **extra):
        tx_id, info = self.charging.start_transaction(self.id, id_tag, meter_start, timestamp)
        return call_result.StartTransaction(transaction_id=tx_id, id_tag_info=info)

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id: int, meter_value: list,
                              transaction_id: int | None = None):
        self.charging.meter_values(self.id, transaction_id, meter_value)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop(self, meter_stop: int, timestamp: str, transaction_id: int, **extra):
        await self.charging.stop_transaction(self.id, transaction_id, meter_stop, timestamp,
                                             extra.get("reason"))
        return call_result.StopTransaction(
            id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **extra):
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics(self, status: str):
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware(self, status: str):
        return call_result.FirmwareStatusNotification()


def start_call(id_tag: str) -> call.RemoteStartTransaction:
    return call.RemoteStartTransaction(id_tag=id_tag, connector_id=1)


def availability(operative: bool) -> call.ChangeAvailability:
    return call.ChangeAvailability(connector_id=0, type=AvailabilityType.operative if operative
                                   else AvailabilityType.inoperative)


def accepted(result) -> bool:
    return result is not None and getattr(result, "status", None) in (
        RemoteStartStopStatus.accepted, "Accepted", "Scheduled")




def stop_call(tx_id: int) -> call.RemoteStopTransaction:
    return call.RemoteStopTransaction(transaction_id=tx_id)
