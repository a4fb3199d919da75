"""A simulated commercial wallbox speaking OCPP 1.6J (on the `ocpp` package), for
`evcharge demo --ocpp` and the OCPP benchmark:

    python -m evsim.ocpp_charger --url ws://127.0.0.1:9000/ocpp --cp-id WB1
        --secret-file F [--ca PEM] [--power-kw 11] [--time-scale 1] [--meter-interval 10]
        [--state-file meter.json]

Boots, reports Available, accepts RemoteStartTransaction (a car is always
plugged in) and RemoteStopTransaction, ChangeAvailability; while charging its
energy register grows by power x time (x time-scale) and MeterValues go out
every --meter-interval seconds. Transaction messages made while Central is
unreachable are queued (bounded) and sent after the next connect. The energy
register is kept in --state-file (the demo's independent witness of billing).
The secret comes from a 0600 file or $EVCHARGE_SECRET, never from argv.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import signal
import ssl
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call
from ocpp.v16 import call_result as result
from ocpp.v16.enums import Action, AvailabilityStatus, RegistrationStatus, RemoteStartStopStatus

MAX_QUEUE = 1000  # transaction messages kept while offline; older MeterValues dropped first
_quiet = logging.getLogger("evsim.ocpp")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def say(level: int, text: str) -> None:
    sys.stderr.write(f"<{level}>ocpp-charger: {text}\n")
    sys.stderr.flush()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Wallbox:
    def __init__(self, args: argparse.Namespace, secret: str):
        self.args, self.secret = args, secret
        self.state_file = Path(args.state_file) if args.state_file else None
        self.meter_wh = self._load()
        self.tx_id: int | None = None
        self.operative = True
        self.cp: Charger | None = None
        self.queue: list = []
        self.metering: asyncio.Task | None = None

    def _load(self) -> float:
        try:
            return float(json.loads(self.state_file.read_text())["meter_wh"])
        except (AttributeError, OSError, ValueError, KeyError, TypeError):
            return 0.0

    def save(self) -> None:
        if self.state_file is not None:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"meter_wh": self.meter_wh}))
            os.replace(tmp, self.state_file)

    async def send_tx(self, payload):
        """A transaction message (OCPP 1.6 4.1.3): now, or queued while offline."""
        if self.cp is None:
            if len(self.queue) >= MAX_QUEUE:
                drop = next((i for i, p in enumerate(self.queue)
                             if isinstance(p, call.MeterValues)), 0)
                self.queue.pop(drop)
            self.queue.append(payload)
            return None
        return await self.cp.call(payload)

    async def status(self, status: str) -> None:
        if self.cp is not None:
            await self.cp.call(call.StatusNotification(connector_id=1, error_code="NoError",
                                                       status=status, timestamp=now()))

    async def start(self, id_tag: str) -> None:
        self.meter_wh = float(round(self.meter_wh))  # the register is whole Wh
        reply = await self.send_tx(call.StartTransaction(
            connector_id=1, id_tag=id_tag, meter_start=int(self.meter_wh), timestamp=now()))
        if reply is None or reply.id_tag_info.get("status") != "Accepted":
            say(4, f"StartTransaction for {id_tag} not accepted")
            return
        self.tx_id = reply.transaction_id
        say(6, f"transaction {self.tx_id} started for {id_tag}")
        await self.status("Charging")
        self.metering = asyncio.ensure_future(self._meter())

    async def _meter(self) -> None:
        watts = self.args.power_kw * 1000
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.args.meter_interval)
            t = time.monotonic()
            self.meter_wh += watts * (t - last) * self.args.time_scale / 3600
            last = t
            self.save()
            await self.send_tx(call.MeterValues(connector_id=1, transaction_id=self.tx_id,
                                                meter_value=[{"timestamp": now(), "sampledValue": [
                                                    {"value": f"{self.meter_wh:.0f}", "unit": "Wh",
                                                     "measurand": "Energy.Active.Import.Register"},
                                                    {"value": f"{watts:.0f}", "unit": "W",
                                                     "measurand": "Power.Active.Import"}]}]))

    async def stop(self, reason: str) -> None:
        if self.metering is not None:
            self.metering.cancel()
            self.metering = None
        tx_id, self.tx_id = self.tx_id, None
        self.meter_wh = float(round(self.meter_wh))  # the register is whole Wh
        self.save()
        await self.send_tx(call.StopTransaction(meter_stop=int(self.meter_wh), timestamp=now(),
                                                transaction_id=tx_id, reason=reason))
        say(6, f"transaction {tx_id} stopped ({reason}) at {self.meter_wh:.0f} Wh")
        await self.status("Available" if self.operative else "Unavailable")


class Charger(ChargePoint):
    def __init__(self, cp_id: str, ws, box: Wallbox):
        super().__init__(cp_id, ws, response_timeout=30, logger=_quiet)
        self.box = box

    @on(Action.remote_start_transaction)
    async def remote_start(self, id_tag: str, **_):
        ok = self.box.operative and self.box.tx_id is None
        return result.RemoteStartTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected)

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, **_):
        if self.box.operative and self.box.tx_id is None:
            await self.box.start(id_tag)

    @on(Action.remote_stop_transaction)
    async def remote_stop(self, transaction_id: int):
        ok = transaction_id == self.box.tx_id
        return result.RemoteStopTransaction(
            status=RemoteStartStopStatus.accepted if ok else RemoteStartStopStatus.rejected)

    @after(Action.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id: int):
        if transaction_id == self.box.tx_id:
            await self.box.stop("Remote")

    @on(Action.change_availability)
    async def change_availability(self, connector_id: int, type: str):
        busy = self.box.tx_id is not None
        return result.ChangeAvailability(
            status=AvailabilityStatus.scheduled if busy else AvailabilityStatus.accepted)

    @after(Action.change_availability)
    async def after_change_availability(self, connector_id: int, type: str):
        self.box.operative = type == "Operative"
        if self.box.tx_id is None:
            await self.box.status("Available" if self.box.operative else "Unavailable")


async def connect_once(box: Wallbox, ready: asyncio.Event) -> None:
    args = box.args
    auth = base64.b64encode(f"{args.cp_id}:{box.secret}".encode()).decode()
    context = ssl.create_default_context(cafile=args.ca) if args.ca else None
    async with websockets.connect(f"{args.url.rstrip('/')}/{args.cp_id}",
                                  subprotocols=["ocpp1.6"], ssl=context, open_timeout=15,
                                  additional_headers={"Authorization": f"Basic {auth}"}) as ws:
        cp = Charger(args.cp_id, ws, box)
        serving = asyncio.ensure_future(cp.start())
        try:
            boot = await cp.call(call.BootNotification(charge_point_vendor="evsim",
                                                       charge_point_model="Wallbox OCPP 1.6J"))
            if boot is None or boot.status != RegistrationStatus.accepted:
                raise ConnectionError("BootNotification not accepted")
            box.cp = cp
            await box.status("Charging" if box.tx_id else "Available")
            queued, box.queue = box.queue, []
            for payload in queued:
                await box.send_tx(payload)
            if not ready.is_set():
                ready.set()
                say(5, f"ready {args.cp_id} booted (heartbeat every {boot.interval} s)")
            while True:
                await asyncio.sleep(boot.interval)
                await cp.call(call.Heartbeat())
        finally:
            box.cp = None
            serving.cancel()


async def run(args: argparse.Namespace, secret: str) -> int:
    box = Wallbox(args, secret)
    ready = asyncio.Event()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    backoff = 0.5
    while not stop.is_set():
        attempt = asyncio.ensure_future(connect_once(box, ready))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({attempt, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if attempt.done() and not attempt.cancelled() and attempt.exception() is not None:
            exc = attempt.exception()
            say(4, f"connection to Central lost or refused: {exc}; retrying in {backoff:g} s")
        attempt.cancel()
        if not stop.is_set():
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
    box.save()
    say(5, "stopped")
    return 0


def read_secret(path: str | None) -> str:
    if path:
        if os.stat(path).st_mode & 0o077:
            raise ValueError(f"{path} may be read by others: chmod 600 it")
        return Path(path).read_text().strip()
    secret = os.environ.get("EVCHARGE_SECRET", "").strip()
    if not secret:
        raise ValueError("give --secret-file F (0600) or $EVCHARGE_SECRET")
    return secret


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ocpp_charger", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="Central's OCPP base, ws(s)://HOST:PORT/ocpp")
    p.add_argument("--cp-id", required=True)
    p.add_argument("--secret-file", help="the CP's secret (mode 0600); or $EVCHARGE_SECRET")
    p.add_argument("--ca", help="CA certificate to verify Central's TLS (wss://)")
    p.add_argument("--power-kw", type=float, default=11.0)
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--meter-interval", type=float, default=10.0)
    p.add_argument("--state-file", help="keep the energy register here (JSON)")
    args = p.parse_args(argv)
    try:
        secret = read_secret(args.secret_file)
    except (OSError, ValueError) as exc:
        print(f"ocpp_charger: error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(run(args, secret))


if __name__ == "__main__":
    sys.exit(main())
