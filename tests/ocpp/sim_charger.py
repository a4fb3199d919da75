"""A commercial charge point as OCPP 1.6J (edition 2, JSON) describes it, built on
the `ocpp` package's own ChargePoint: written from the specification, not from
Central's code.

- Boot: BootNotification, then StatusNotification for connector 1 (4.2, 4.9).
- RemoteStartTransaction (5.11): Accepted when Operative and idle, then the
  charger starts a transaction with that idTag: StartTransaction (4.8), status
  Charging, MeterValues every `tick` seconds (4.7: Energy.Active.Import.Register
  in Wh, Power.Active.Import in W).
- RemoteStopTransaction (5.12): Accepted for the running transaction, then
  StopTransaction (4.10) with meterStop and reason Remote, status Available.
- ChangeAvailability (5.2): Accepted (Scheduled during a transaction), status
  Unavailable / Available.
- Offline (4.1.3 / 3.3): transaction messages (Start/Stop/MeterValues) made
  while the connection is down are queued and sent, in order, after the next
  connect.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import threading
from datetime import UTC, datetime

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call
from ocpp.v16 import call_result as result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    RegistrationStatus,
    RemoteStartStopStatus,
)

_log = logging.getLogger("sim-charger")
_log.addHandler(logging.NullHandler())
_log.propagate = False


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class SimCharger(ChargePoint):
    def __init__(self, cp_id: str, connection, rig: ChargerRig):
        super().__init__(cp_id, connection, response_timeout=10, logger=_log)
        self.rig = rig

    @on(Action.remote_start_transaction)
    async def remote_start(self, id_tag: str, connector_id: int | None = None, **_):
        rig = self.rig
        ok = rig.operative and rig.tx_id is None and not rig.starting
        if ok:
            rig.starting = True
        return result.RemoteStartTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected)

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, **_):
        if self.rig.starting:
            await self.rig.start_transaction(id_tag)

    @on(Action.remote_stop_transaction)
    async def remote_stop(self, transaction_id: int):
        ok = transaction_id == self.rig.tx_id
        return result.RemoteStopTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected)

    @after(Action.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id: int):
        if transaction_id == self.rig.tx_id:
            await self.rig.stop_transaction("Remote")

    @on(Action.change_availability)
    async def change_availability(self, connector_id: int, type: str):
        self.rig.availability_changes.append(type)
        busy = self.rig.tx_id is not None
        return result.ChangeAvailability(
            status=AvailabilityStatus.scheduled if busy else AvailabilityStatus.accepted)

    @after(Action.change_availability)
    async def after_change_availability(self, connector_id: int, type: str):
        self.rig.operative = type == "Operative"
        if self.rig.tx_id is None:
            await self.rig.status(ChargePointStatus.available if self.rig.operative
                                  else ChargePointStatus.unavailable)


class ChargerRig:
    """The charger's hardware and memory; its event loop runs in a thread, so that
    tests (synchronous) drive it through the methods at the bottom."""

    def __init__(self, url: str, cp_id: str, password: str | None, *, tick: float = 0.25,
                 wh_per_tick: int = 250, power_w: int = 7400, meter_wh: int = 1000,
                 remote_start: bool = True, ssl=None):
        self.url, self.cp_id, self.password = url, cp_id, password
        self.tick, self.wh_per_tick, self.power_w = tick, wh_per_tick, power_w
        self.meter_wh = meter_wh
        self.remote_start = remote_start
        self.ssl = ssl  # an SSLContext for wss:// (security profile 2)
        self.cp: SimCharger | None = None
        self.ws = None
        self.tx_id: int | None = None
        self.tx_meter_start: int | None = None
        self.starting = False
        self.operative = True
        self.availability_changes: list[str] = []
        self.queue: list = []  # transaction messages made while offline
        self.stop_results: list = []
        self.interval: int | None = None
        self._metering: asyncio.Task | None = None
        self._serving: asyncio.Task | None = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    # -- inside the loop ------------------------------------------------------------------
    async def _connect(self, boot: bool) -> None:
        headers = {"Authorization": basic(self.cp_id, self.password)} if self.password else {}
        self.ws = await websockets.connect(f"{self.url}/{self.cp_id}", subprotocols=["ocpp1.6"],
                                          additional_headers=headers, open_timeout=10,
                                          ssl=self.ssl)
        cls = SimCharger if self.remote_start else _NoRemoteStart
        self.cp = cls(self.cp_id, self.ws, self)
        self._serving = asyncio.ensure_future(self.cp.start())
        if boot:
            reply = await self.cp.call(call.BootNotification(
                charge_point_vendor="Simulated", charge_point_model="Wallbox 22"))
            assert reply.status == RegistrationStatus.accepted, reply
            self.interval = reply.interval
            await self.status(ChargePointStatus.available)
        queued, self.queue = self.queue, []
        for payload in queued:  # offline transaction messages, in order
            await self._send_tx(payload)

    async def _send_tx(self, payload):
        """A transaction message: sent now, or queued while offline."""
        if self.ws is None:
            self.queue.append(payload)
            return None
        reply = await self.cp.call(payload)
        if isinstance(payload, call.StopTransaction):
            self.stop_results.append(reply)
        return reply

    async def status(self, status, error_code=ChargePointErrorCode.no_error, **extra):
        await self.cp.call(call.StatusNotification(connector_id=1, error_code=error_code,
                                                   status=status, timestamp=now(), **extra))

    async def start_transaction(self, id_tag: str) -> None:
        self.tx_meter_start = self.meter_wh
        reply = await self._send_tx(call.StartTransaction(
            connector_id=1, id_tag=id_tag, meter_start=self.meter_wh, timestamp=now()))
        self.starting = False
        if reply is None or reply.id_tag_info["status"] != "Accepted":
            return
        self.tx_id = reply.transaction_id
        await self.status(ChargePointStatus.charging)
        self._metering = asyncio.ensure_future(self._meter())

    async def _meter(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self.meter_wh += self.wh_per_tick
            await self._send_tx(call.MeterValues(connector_id=1, transaction_id=self.tx_id,
                                                 meter_value=[self.sample()]))

    def sample(self) -> dict:
        return {"timestamp": now(), "sampledValue": [
            {"value": str(self.meter_wh), "measurand": "Energy.Active.Import.Register",
             "unit": "Wh"},
            {"value": str(self.power_w), "measurand": "Power.Active.Import", "unit": "W"}]}

    async def stop_transaction(self, reason: str) -> None:
        if self._metering is not None:
            self._metering.cancel()
            self._metering = None
        tx_id, self.tx_id = self.tx_id, None
        await self._send_tx(call.StopTransaction(meter_stop=self.meter_wh, timestamp=now(),
                                                 transaction_id=tx_id, reason=reason))
        if self.ws is not None:
            await self.status(ChargePointStatus.available if self.operative
                              else ChargePointStatus.unavailable)

    async def _disconnect(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self._serving is not None:
            self._serving.cancel()

    # -- for the test (synchronous) ---------------------------------------------------------
    def run(self, coro, timeout: float = 20.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connect(self, boot: bool = True) -> ChargerRig:
        self.run(self._connect(boot))
        return self

    def disconnect(self) -> None:
        self.run(self._disconnect())

    def call(self, payload):
        return self.run(self.cp.call(payload))

    def close(self) -> None:
        try:
            self.run(self._disconnect(), timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)


class _NoRemoteStart(SimCharger):
    """A charger whose firmware does not implement RemoteStartTransaction: the ocpp
    package answers Central's call with CALLERROR NotImplemented."""

    remote_start = None  # no @on handler: the route has no _on_action
