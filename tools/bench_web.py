#!/usr/bin/env python3
"""Benchmark the web console's live feed and the REST API: N CPs charging at 1 Hz.

    .venv/bin/python tools/bench_web.py [--cps 1000] [--seconds 30] [--consoles 5]
                                        [--kafka HOST:PORT] [--smoke]

A real Central (its own process, --http) with N simulated charge points from the
load generator (tools/evbench: real TCP connections, auth, heartbeats, one signed
charging_data a second each through Kafka) and one driver per CP. Measured over
the window, with --consoles WebSocket consoles connected (/api/v1/live, as the
page's script connects):
  - page update latency: the fleet's charging_data produced -> the console's
    WebSocket message showing that CP's energy (matched by CP and kWh), p50/p99/max;
  - updates received per console per second;
  - GET /api/v1/cps (all N CPs) once a second: response time p50/p99;
  - Central's CPU (% of one core) and RSS, also over an equal window with no console
    connected, so the difference is the console's cost.
Writes bench/web.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from evbench import fleet as fleet_module  # noqa: E402
from evbench.central import ADMIN_TOKEN, CentralProcess, provision  # noqa: E402
from evbench.drivers import DriverDesk, provision_drivers  # noqa: E402
from evbench.fleet import Fleet  # noqa: E402
from evbench.metrics import Latencies  # noqa: E402
from evbench.procmon import CpuWindow  # noqa: E402
from evbench.producers import ProducerPool  # noqa: E402
from evharness.procs import ProcessGroup, free_port  # noqa: E402
from evkafka import broker, names  # noqa: E402
from evkafka.client import ensure_topics, wait_broker  # noqa: E402
from evwire.trace import configure  # noqa: E402


class WebCentral(CentralProcess):
    """The load generator's Central, also serving --http."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.http_port = free_port()

    def argv(self) -> list[str]:
        return [*super().argv(), "--http", f"127.0.0.1:{self.http_port}"]


class SentAt:
    """When the fleet produced each (cp_id, kWh) figure: wraps Fleet._send_data."""

    def __init__(self):
        self.at: dict[tuple[str, float], float] = {}
        original = fleet_module.Fleet._send_data

        def send_data(fleet, cp, session):
            original(fleet, cp, session)
            self.at[(cp.cp_id, round(session.energy_kwh, 3))] = time.time()
        fleet_module.Fleet._send_data = send_data


async def console(url: str, sent: SentAt, latency: Latencies, parts: tuple[Latencies, Latencies],
                  counts: list[int], stop: asyncio.Event) -> None:
    """One console: each CP figure's latency, split at Central's send time (`at`) into
    produced -> sent by Central (Kafka, Central, the 0.2 s batching) and sent -> received."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(url + "api/v1/live", headers=headers, max_msg_size=0) as ws:
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.receive(), 1.0)
            except TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            data = json.loads(msg.data)
            if data["type"] != "cps":
                continue
            for cp in data["cps"]:
                at = sent.at.get((cp["cp_id"], cp.get("energy_kwh")))
                if at is not None:
                    latency.add(now - at)
                    parts[0].add(max(0.0, data["at"] - at))
                    parts[1].add(max(0.0, now - data["at"]))
                    counts[0] += 1


async def poll_api(url: str, latency: Latencies, stop: asyncio.Event) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            began = time.monotonic()
            async with http.get(url + "api/v1/cps", headers=headers) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            latency.add(time.monotonic() - began)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))


async def run(args: argparse.Namespace, kafka: str, workdir: Path) -> dict:
    tag = uuid.uuid4().hex[:8]
    secrets = {f"CP{i:05d}": f"web-bench-{tag}-{i}" for i in range(args.cps)}
    drivers = {f"WD{tag}-{i}": f"web-bench-driver-{tag}-{i}" for i in range(args.cps)}
    provision(workdir / "central.db", secrets)
    provision_drivers(workdir / "central.db", drivers)
    ensure_topics(kafka, names.all_topics())
    central = WebCentral(workdir, kafka, max_connections=args.cps + 100, log_level="warning")
    await asyncio.to_thread(central.start)
    url = f"http://127.0.0.1:{central.http_port}/"
    sent = SentAt()
    producers = ProducerPool(kafka, names.cp_events(), count=1)
    requested: dict = {}
    fleet = Fleet("127.0.0.1", central.port, secrets, producers, requested)
    desk = DriverDesk("127.0.0.1", central.port, requested, lambda d: drivers.get(d, "x"))
    result: dict = {"cps": args.cps, "consoles": args.consoles, "window_s": args.seconds}
    try:
        result["connect_s"] = round(await fleet.connect_all(concurrency=500,
                                                            timeout=60 + args.cps / 50), 2)
        fleet.start_ticking()
        await desk.open()
        ramp = Latencies()
        driver_ids = list(drivers)
        accepted = 0
        for start in range(0, args.cps, 200):  # 200 requests at a time
            got = await asyncio.gather(*(desk.charge(cp.cp_id, driver_ids[i], ramp)
                                         for i, cp in enumerate(fleet.cps[start:start + 200],
                                                                start)))
            accepted += sum(1 for s in got if s)
        result["sessions"] = accepted
        await asyncio.sleep(3.0)  # every session confirmed and sending

        idle = CpuWindow(central.pid).start()
        await asyncio.sleep(args.seconds)
        result["central_without_console"] = idle.stop()

        stop = asyncio.Event()
        latency, api_latency, counts = Latencies(), Latencies(), [0]
        parts = (Latencies(), Latencies())
        tasks = [asyncio.create_task(console(url, sent, latency, parts, counts, stop))
                 for _ in range(args.consoles)]
        await asyncio.sleep(2.0)  # snapshots sent; from here the steady state
        for recorder in (latency, *parts):
            recorder.clear()
        counts[0] = 0
        tasks.append(asyncio.create_task(poll_api(url, api_latency, stop)))
        busy = CpuWindow(central.pid).start()
        began = time.monotonic()
        await asyncio.sleep(args.seconds)
        result["central_with_consoles"] = busy.stop()
        elapsed = time.monotonic() - began
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        result["update_latency"] = latency.summary()
        result["produced_to_sent_by_central"] = parts[0].summary()
        result["sent_to_received_by_console"] = parts[1].summary()
        result["updates_per_console_per_s"] = round(counts[0] / args.consoles / elapsed, 1)
        result["api_get_cps"] = api_latency.summary()
    finally:
        await fleet.close()
        desk.close()
        producers.close()
        central.stop()
        central.close()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cps", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--consoles", type=int, default=2)
    ap.add_argument("--kafka", help="an existing broker (default: a local one on a free port)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "web.json"))
    ap.add_argument("--smoke", action="store_true", help="50 CPs for 5 s")
    args = ap.parse_args(argv)
    if args.smoke:
        args.cps, args.seconds = 50, 5.0
    if not 1 <= args.cps <= 20000 or not 1 <= args.consoles <= 100 or args.seconds <= 0:
        ap.error("--cps 1..20000, --consoles 1..100, --seconds > 0")
    configure(tier="bench-web", level="warning")
    os.environ[names.ENV_NAMESPACE] = f"benchweb{uuid.uuid4().hex[:8]}."  # Central inherits
    workdir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    group = ProcessGroup(workdir / "logs")
    try:
        kafka = args.kafka
        if not kafka:
            kafka = f"127.0.0.1:{free_port()}"
            group.start("kafka", broker.broker_argv(kafka))
        wait_broker(kafka, 30)
        result = asyncio.run(run(args, kafka, workdir))
    finally:
        group.close()
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
