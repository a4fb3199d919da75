#!/usr/bin/env python3
"""Benchmark the MQTT bridge: N CPs at 1 Hz, Kafka -> bridge -> MQTT broker -> subscriber.

    .venv/bin/python tools/bench_mqtt.py [--cps 1000] [--seconds 30] [--kafka HOST:PORT]
                                         [--broker mosquitto|embedded]

Central is modelled by this script: it writes cp_status records (session_live,
as Central's status feed does at most once a second per CP) straight into the
compacted cp-status topic, each CP once a second, spread evenly over the
second. Each record carries a power figure unique to it, so the paho
subscriber (subscribed to PREFIX+/power, as Home Assistant is) matches what it
receives to when it was produced: end-to-end latency, produce call -> MQTT
delivery, p50/p99/max. The bridge's CPU (psutil, user+system, % of one core)
and memory are measured over the feeding window. Writes bench/mqtt.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from evharness.procs import ProcessGroup, bin_path, free_port, wait_port
from evkafka import broker, names
from evkafka.client import make_producer, wait_broker
from evkafka.compacted import ensure_compacted_topic
from evwire import dumps, make
from evwire import types as t

ROOT = Path(__file__).resolve().parent.parent


def record(cp_id: str, power: float) -> bytes:
    return dumps(make(t.CP_STATUS, cp_id=cp_id, state=t.CP_CHARGING,
                      event=t.STATUS_EVENT_SESSION_LIVE, timestamp=int(time.time()),
                      session_id=f"s-{cp_id}", driver_id="D1", power_kw=power,
                      energy_kwh=round(power / 10, 4), cost=round(power / 30, 2)))


class Receiver:
    def __init__(self, port: int, password: str | None = None):
        self.sent: dict[tuple[str, str], float] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}")
        self.client.on_connect = lambda c, *_a: c.subscribe("evcharge/+/power", qos=1)
        self.client.on_subscribe = lambda *_a: self.ready.set()
        self.client.on_message = self._message
        if password:  # the embedded broker lets in only its users
            self.client.username_pw_set("homeassistant", password)
        self.client.connect("127.0.0.1", port, 60)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("subscriber not subscribed")

    def expect(self, cp_id: str, power: float, at: float) -> None:
        with self.lock:
            self.sent[(cp_id, f"{power:.3f}")] = at

    def _message(self, _c, _u, msg) -> None:
        now = time.perf_counter()
        cp_id = msg.topic.split("/")[1]
        with self.lock:
            at = self.sent.pop((cp_id, msg.payload.decode()), None)
            if at is not None:
                self.latencies.append(now - at)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_mqtt_broker(group: ProcessGroup, kind: str, workdir: Path) -> tuple[str, ...]:
    """(address, bridge args) of a fresh broker on a free port."""
    port = free_port()
    if kind == "mosquitto":
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                        "persistence false\nmax_queued_messages 0\n")
        proc = group.start("mosquitto", [binary, "-c", str(conf)])
        wait_port("127.0.0.1", port, timeout=10, proc=proc.popen)
        return (f"127.0.0.1:{port}", f"--mqtt=127.0.0.1:{port}")
    return (f"127.0.0.1:{port}", f"--embedded-broker=127.0.0.1:{port}",
            f"--embedded-state-dir={workdir / 'mqtt-state'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cps", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--kafka", help="an existing broker (default: a local one on a free port)")
    ap.add_argument("--broker", choices=("mosquitto", "embedded"),
                    default="mosquitto" if shutil.which("mosquitto") or
                    os.path.exists("/usr/sbin/mosquitto") else "embedded")
    ap.add_argument("--out", default=str(ROOT / "bench" / "mqtt.json"))
    ap.add_argument("--smoke", action="store_true", help="50 CPs for 5 s")
    args = ap.parse_args(argv)
    if args.smoke:
        args.cps, args.seconds = 50, 5.0
    os.environ[names.ENV_NAMESPACE] = f"bench{uuid.uuid4().hex[:8]}."
    workdir = Path(tempfile.mkdtemp(prefix="bench-mqtt-"))
    group = ProcessGroup(workdir / "logs")
    embedded_pid = None
    try:
        kafka = args.kafka
        if not kafka:
            kafka = f"127.0.0.1:{free_port()}"
            group.start("kafka", broker.broker_argv(kafka))
        wait_broker(kafka, 30)
        ensure_compacted_topic(kafka, names.cp_status())
        cps = [f"CP{i:05d}" for i in range(args.cps)]
        producer = make_producer(kafka, **{"linger.ms": 2})
        for cp_id in cps:  # every CP known before the bridge starts (its replay)
            producer.produce(names.cp_status(), key=cp_id.encode(), value=record(cp_id, 0.5))
        producer.flush(30)
        address, *mqtt_args = start_mqtt_broker(group, args.broker, workdir)
        bridge = group.start("bridge", [bin_path("evcharge"), "mqtt-bridge", "--kafka", kafka,
                                        *mqtt_args, "--log-level", "notice"])
        deadline = time.monotonic() + 60
        wait_port("127.0.0.1", int(address.rsplit(":", 1)[1]), timeout=30)  # embedded: late
        ha_pw = workdir / "mqtt-state" / "homeassistant.password"
        receiver = Receiver(int(address.rsplit(":", 1)[1]),
                            ha_pw.read_text().strip() if args.broker == "embedded" else None)
        # The replay is published when the subscriber sees the last CP's first value.
        seen = threading.Event()
        receiver.expect(cps[-1], 0.5, time.perf_counter())
        while time.monotonic() < deadline:
            with receiver.lock:
                if (cps[-1], "0.500") not in receiver.sent:
                    seen.set()
                    break
            time.sleep(0.05)
        if not seen.is_set():
            raise RuntimeError(f"bridge did not publish the replay (log {bridge.log_path})")
        with receiver.lock:
            receiver.latencies.clear()
        if args.broker == "embedded":
            found = [ln for ln in bridge.log().splitlines() if "pid " in ln]
            if found:
                embedded_pid = int(found[0].split("pid ")[1].split(",")[0])
        ps = psutil.Process(bridge.pid)
        cpu0, wall0 = ps.cpu_times(), time.perf_counter()
        slices = 10  # each CP once a second, in 10 slices of the second
        per_slice = max(1, len(cps) // slices)
        sent = 0
        tick = 0
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            tick += 1
            for s in range(slices):
                slot = start + (tick - 1) + s / slices
                delay = slot - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                for cp_id in cps[s * per_slice:(s + 1) * per_slice]:
                    power = round(1.0 + tick * 0.001, 3)
                    receiver.expect(cp_id, power, time.perf_counter())
                    producer.produce(names.cp_status(), key=cp_id.encode(),
                                     value=record(cp_id, power))
                    sent += 1
                producer.poll(0)
        producer.flush(30)
        drain = time.monotonic() + 10
        while time.monotonic() < drain:
            with receiver.lock:
                if len(receiver.latencies) >= sent:
                    break
            time.sleep(0.1)
        cpu1, wall1 = ps.cpu_times(), time.perf_counter()
        rss = ps.memory_info().rss
        receiver.close()
        lat = sorted(receiver.latencies)
        cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (wall1 - wall0) * 100

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else -1

        report = {
            "cps": args.cps, "seconds": args.seconds, "broker": args.broker,
            "records_sent": sent, "values_received": len(lat),
            "latency_ms": {"p50": pct(0.50), "p99": pct(0.99),
                           "max": round(lat[-1] * 1000, 1) if lat else -1,
                           "mean": round(statistics.mean(lat) * 1000, 1) if lat else -1},
            "bridge_cpu_percent_of_one_core": round(cpu, 1),
            "bridge_rss_mb": round(rss / 2**20, 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}",
        }
        print(json.dumps(report, indent=2))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        return 0 if len(lat) == sent else 1
    finally:
        group.close()
        if embedded_pid:
            try:
                os.kill(embedded_pid, 9)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    sys.exit(main())
