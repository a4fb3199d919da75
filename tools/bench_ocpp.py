"""OCPP gateway benchmark: N OCPP 1.6J chargers on one Central, MeterValues every 10 s.

Starts a real broker (own process, unless --kafka) and a real `evcharge central
--ocpp` (--log-level warning), provisions N CPs and N drivers with cards, then:

1. connects N chargers over real WebSockets (HTTP Basic at the upgrade, the
   `ocpp1.6` subprotocol), each sends BootNotification, StatusNotification and
   StartTransaction with its driver's card: N live sessions at Central;
2. steady: every charger sends MeterValues (energy register in Wh, power in W)
   every --interval seconds, spread evenly, for --duration seconds. Reported:
   the round trip of each MeterValues (sent -> CALLRESULT; Central has turned it
   into the driver's charging_data and handed it to Kafka by then), and Central's
   CPU (user+system seconds per wall second, 1.0 = one core) over that window;
3. stop: every charger sends StopTransaction at once (billing, tickets): the
   round trips and the time until all are answered.

The chargers are plain asyncio WebSocket clients sending OCPP-J frames (a
charger's work is not what is measured); they run on the same machine and share
its cores with Central and the broker.

    .venv/bin/python tools/bench_ocpp.py [--chargers 1000] [--interval 10] [--duration 60]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import websockets

from evcentral.db import Database
from evharness.procs import ProcessGroup, free_port, wait_port, wait_until
from evkafka import names
from evkafka.broker import spawn
from evkafka.client import ensure_topics

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "ocpp.json"
COMMAND = ".venv/bin/python tools/bench_ocpp.py"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def summary(values: list[float]) -> dict:
    return {"count": len(values), "p50_ms": pct(values, 0.50), "p95_ms": pct(values, 0.95),
            "p99_ms": pct(values, 0.99), "max_ms": round(max(values), 2) if values else None,
            "mean_ms": round(statistics.fmean(values), 2) if values else None}


class Charger:
    def __init__(self, url: str, cp_id: str, secret: str, card: str):
        self.url, self.cp_id, self.secret, self.card = url, cp_id, secret, card
        self.ws = None
        self.n = 0
        self.meter_wh = 0
        self.tx_id: int | None = None

    async def connect(self) -> None:
        auth = base64.b64encode(f"{self.cp_id}:{self.secret}".encode()).decode()
        self.ws = await websockets.connect(f"{self.url}/{self.cp_id}", subprotocols=["ocpp1.6"],
                                           additional_headers={"Authorization": f"Basic {auth}"},
                                           open_timeout=60, ping_interval=None, max_queue=4)
        await self.call("BootNotification", {"chargePointVendor": "bench",
                                             "chargePointModel": "B1"})
        await self.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                               "status": "Available"})
        reply = await self.call("StartTransaction", {"connectorId": 1, "idTag": self.card,
                                                     "meterStart": 0, "timestamp": now()})
        assert reply["idTagInfo"]["status"] == "Accepted", reply
        self.tx_id = reply["transactionId"]

    async def call(self, action: str, payload: dict) -> dict:
        self.n += 1
        unique_id = str(self.n)
        await self.ws.send(json.dumps([2, unique_id, action, payload]))
        while True:  # Central's own calls (none expected here) would be skipped
            frame = json.loads(await self.ws.recv())
            if frame[1] == unique_id:
                if frame[0] != 3:
                    raise RuntimeError(f"{self.cp_id} {action}: {frame}")
                return frame[2]

    async def meter(self) -> float:
        self.meter_wh += 30  # 10.8 kW for 10 s
        started = time.perf_counter()
        await self.call("MeterValues", {"connectorId": 1, "transactionId": self.tx_id,
                                        "meterValue": [{"timestamp": now(), "sampledValue": [
                                            {"value": str(self.meter_wh), "unit": "Wh",
                                             "measurand": "Energy.Active.Import.Register"},
                                            {"value": "10800", "unit": "W",
                                             "measurand": "Power.Active.Import"}]}]})
        return (time.perf_counter() - started) * 1000

    async def stop(self) -> float:
        started = time.perf_counter()
        await self.call("StopTransaction", {"transactionId": self.tx_id, "timestamp": now(),
                                            "meterStop": self.meter_wh, "reason": "Local"})
        return (time.perf_counter() - started) * 1000


async def steady(chargers: list[Charger], interval: float, duration: float) -> list[float]:
    rtts: list[float] = []
    errors: list[str] = []
    end = time.monotonic() + duration

    async def one(charger: Charger, offset: float) -> None:
        await asyncio.sleep(offset)
        next_at = time.monotonic()
        while next_at < end:
            try:
                rtts.append(await charger.meter())
            except Exception as exc:
                errors.append(f"{charger.cp_id}: {exc!r}")
                return
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    await asyncio.gather(*(one(c, interval * i / len(chargers)) for i, c in enumerate(chargers)))
    if errors:
        raise RuntimeError(f"{len(errors)} charger(s) failed, first: {errors[0]}")
    return rtts


async def drive(url: str, creds: list[tuple[str, str, str]], args, central: psutil.Process
                ) -> dict:
    chargers = [Charger(url, cp, secret, card) for cp, secret, card in creds]
    started = time.monotonic()
    gate = asyncio.Semaphore(50)

    async def connect(c: Charger) -> None:
        async with gate:
            await c.connect()

    await asyncio.gather(*(connect(c) for c in chargers))
    connect_s = time.monotonic() - started
    print(f"   {len(chargers)} chargers connected and charging in {connect_s:.1f} s", flush=True)
    await asyncio.sleep(2)  # let the start-up work settle before measuring
    cpu0, wall0 = central.cpu_times(), time.monotonic()
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    rtts = await steady(chargers, args.interval, args.duration)
    wall = time.monotonic() - wall0
    cpu1 = central.cpu_times()
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    central_cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall
    load_cpu = (own1.ru_utime - own0.ru_utime + own1.ru_stime - own0.ru_stime) / wall
    rss_steady = central.memory_info().rss
    stop_started = time.monotonic()
    stops = await asyncio.gather(*(c.stop() for c in chargers))
    stop_all_s = time.monotonic() - stop_started
    for c in chargers:
        await c.ws.close()
    return {"connect_all_s": round(connect_s, 2),
            "steady": {"seconds": round(wall, 1), "meter_values": len(rtts),
                       "per_s": round(len(rtts) / wall, 1), "rtt": summary(rtts),
                       "central_cpu_cores": round(central_cpu, 3),
                       "loadgen_cpu_cores": round(load_cpu, 3),
                       "central_rss_mib": round(rss_steady / 2**20, 1)},
            "stop": {"all_answered_s": round(stop_all_s, 2), "rtt": summary(list(stops))}}


def provision(db_path: Path, n: int) -> list[tuple[str, str, str]]:
    db = Database(db_path)
    creds = [(f"WB{i:05d}", f"secret-{i:05d}-{uuid.uuid4().hex[:8]}", f"CARD{i:05d}")
             for i in range(n)]
    with db.transaction() as c:
        c.executemany("INSERT INTO cps (cp_id, location, max_kw, secret_enc, created_at)"
                      " VALUES (?, '', 22.0, ?, 0)",
                      [(cp, db.box.encrypt(secret)) for cp, secret, _card in creds])
    for i, (_cp, _secret, card) in enumerate(creds):
        db.add_driver(f"BD{i:05d}", card_uid=card)
    db.close()
    return creds


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # Central inherits it


def run(args, bootstrap: str, workdir: Path) -> dict:
    os.environ[names.ENV_NAMESPACE] = f"bench{uuid.uuid4().hex[:8]}."
    ensure_topics(bootstrap, names.all_topics())
    db_path = workdir / "central.db"
    creds = provision(db_path, args.chargers)
    random.shuffle(creds)
    port, ocpp_port = free_port(), free_port()
    group = ProcessGroup(workdir / "logs")
    central = group.evcharge("central", [
        "central", "--listen", f"127.0.0.1:{port}", "--db", str(db_path), "--kafka", bootstrap,
        "--ocpp", f"127.0.0.1:{ocpp_port}", "--log-level", "warning",
        "--heartbeat-timeout", "30", "--max-connections", str(args.chargers + 100)])
    try:
        wait_port("127.0.0.1", port, timeout=60, proc=central.popen)
        wait_until(lambda: "ready listening" in central.log(), timeout=30, what="Central ready")
        result = asyncio.run(drive(f"ws://127.0.0.1:{ocpp_port}/ocpp", creds, args,
                                   psutil.Process(central.pid)))
        result["central_rss_mib_peak"] = round(
            int(next(line.split()[1] for line in open(f"/proc/{central.pid}/status")
                     if line.startswith("VmHWM"))) / 1024, 1)
        problems = [line for line in central.log().splitlines()
                    if "Traceback" in line or line.startswith("<3>")]
        result["central_errors"] = problems[:5]
    finally:
        group.close()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chargers", type=int, default=1000)
    p.add_argument("--interval", type=float, default=10.0, help="seconds between MeterValues")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of steady load")
    p.add_argument("--kafka", help="use this broker instead of starting one")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    raise_fd_limit(4 * args.chargers + 256)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ocpp-"))
    broker = None
    bootstrap = args.kafka
    if not bootstrap:
        bootstrap = f"127.0.0.1:{free_port()}"
        broker = spawn(bootstrap, str(workdir / "broker.log"))
        host, port = bootstrap.rsplit(":", 1)
        wait_port(host, int(port), 20, broker)
    try:
        print(f"-- {args.chargers} OCPP chargers, MeterValues every {args.interval:g} s, "
              f"{args.duration:g} s", flush=True)
        result = run(args, bootstrap, workdir)
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(15)
    report = {"command": COMMAND, "python": platform.python_version(), "cpus": os.cpu_count(),
              "broker": "external" if args.kafka else "local Tansu",
              "settings": {k: v for k, v in vars(args).items() if k not in ("out", "kafka")},
              **result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    s = result["steady"]
    print(json.dumps(result, indent=2))
    print(f"N={args.chargers}: {s['per_s']} MeterValues/s, round trip p50 {s['rtt']['p50_ms']} "
          f"ms p99 {s['rtt']['p99_ms']} ms max {s['rtt']['max_ms']} ms, Central CPU "
          f"{s['central_cpu_cores'] * 100:.1f}% of a core, RSS {s['central_rss_mib']} MiB")
    print(f"wrote {args.out}")
    return 0 if not result["central_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
