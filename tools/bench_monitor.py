#!/usr/bin/env python3
"""Benchmark the Monitor: fault detection times and outbox throughput.

    .venv/bin/python tools/bench_monitor.py [--runs 10] [--records 10000] [--kafka HOST:PORT]

Fault detection (the real network: virtual hardware, Engine, Central, broker,
Monitor with its production timers: health checks every 1 s, 1 s timeout,
heartbeats every 1 s; Central's DISCONNECTED after 3 s), median over --runs:
  engine SIGKILL  -> FAULTED at Central   (connection closed: detected at once)
  engine SIGSTOP  -> FAULTED at Central   (alive but silent: the health-check timeout)
  monitor SIGKILL -> DISCONNECTED         (connection closed)
  monitor SIGSTOP -> DISCONNECTED         (silent: Central's heartbeat timeout)
Central is polled every 20 ms, so each figure carries up to ~20 ms of polling.

Outbox throughput: records/s stored (SQLite alone, and through the Monitor process
from Engine frames over TCP), delivered to Kafka (replay of a full outbox), and
both at once (live). Writes JSON to bench/monitor.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import evwire
from evharness.network import Network, wait_ready
from evharness.procs import Proc, ProcessGroup, free_port, wait_port, wait_until
from evharness.spec import CpSpec, NetworkSpec, Timers
from evkafka import broker, names
from evkafka.client import AssignedConsumer, ensure_topics
from evmonitor.outbox import Outbox
from evwire import types as t

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.02
PRODUCTION = Timers(heartbeat_s=1.0, heartbeat_timeout_s=3.0, health_s=1.0, engine_timeout_s=1.0,
                    engine_grace_s=10.0, backoff_base_s=0.5, backoff_cap_s=2.0, time_scale=1.0)


def summary(values: list[float]) -> dict:
    return {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
            "max_s": round(max(values), 3), "runs_s": [round(v, 3) for v in values]}


def signal_group(proc: Proc, sig: int) -> None:
    os.killpg(proc.popen.pid, sig)


def time_until_state(net: Network, state: str, since: float, timeout: float = 20.0) -> float:
    """Seconds from `since` (just before the kill/stop signal) to Central showing `state`."""
    while time.monotonic() - since < timeout:
        if net.cp_state("CP1") == state:
            return time.monotonic() - since
        time.sleep(POLL_S)
    raise TimeoutError(f"CP1 not {state} within {timeout}s")


def fault_detection(workdir: Path, kafka: str, runs: int) -> dict:
    spec = NetworkSpec(workdir / "net", cps=[CpSpec("CP1")], drivers=["D1"], kafka=kafka,
                       timers=PRODUCTION)
    results: dict[str, list[float]] = {k: [] for k in (
        "engine_kill_to_faulted", "engine_freeze_to_faulted",
        "monitor_kill_to_disconnected", "monitor_freeze_to_disconnected")}
    with Network(spec) as net:
        for i in range(runs):
            net.wait_state("CP1", "AVAILABLE", timeout=30)
            since = time.monotonic()
            net.kill_engine("CP1")
            results["engine_kill_to_faulted"].append(time_until_state(net, "FAULTED", since))
            net.start_engine("CP1")
            net.wait_state("CP1", "AVAILABLE", timeout=30)

            engine = net.proc("engine-CP1")
            since = time.monotonic()
            signal_group(engine, signal.SIGSTOP)
            try:
                results["engine_freeze_to_faulted"].append(
                    time_until_state(net, "FAULTED", since))
            finally:
                signal_group(engine, signal.SIGCONT)
            net.wait_state("CP1", "AVAILABLE", timeout=30)

            since = time.monotonic()
            net.kill_monitor("CP1")
            results["monitor_kill_to_disconnected"].append(
                time_until_state(net, "DISCONNECTED", since))
            net.start_monitor("CP1")
            net.wait_state("CP1", "AVAILABLE", timeout=30)

            monitor = net.proc("monitor-CP1")
            since = time.monotonic()
            signal_group(monitor, signal.SIGSTOP)
            try:
                results["monitor_freeze_to_disconnected"].append(
                    time_until_state(net, "DISCONNECTED", since))
            finally:
                signal_group(monitor, signal.SIGCONT)
            print(f"  run {i + 1}/{runs}: " + ", ".join(
                f"{k} {v[-1]:.3f} s" for k, v in results.items()), flush=True)
    return {k: summary(v) for k, v in results.items()}


class BlastEngine:
    """Plays the Engine: answers health checks, sends a burst of charging_data frames."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.conn = conn
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        decoder = evwire.FrameDecoder()
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            for msg in decoder.feed(data):
                if msg["type"] == t.HEALTH_CHECK_REQUEST:
                    reply = evwire.make(t.HEALTH_CHECK_RESPONSE, msg["message_id"],
                                        status=t.SUCCESS, engine_status=t.ENGINE_OK,
                                        is_charging=True, session_id="S-bench")
                    with self._lock:
                        conn.sendall(evwire.encode_frame(reply))

    def blast(self, count: int) -> None:
        frames = b"".join(evwire.encode_frame(sample(n)) for n in range(count))
        wait_until(lambda: self.conn is not None, timeout=20, what="Monitor connected")
        with self._lock:
            self.conn.sendall(frames)


def sample(n: int) -> dict:
    return evwire.make(t.CHARGING_DATA, cp_id="CP1", session_id="S-bench",
                       energy_consumed_kwh=round(n * 0.003, 3), total_cost=round(n * 0.001, 2),
                       charging_rate=11.0, timestamp=1700000000 + n, driver_id="D1")


def outbox_rows(path: Path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def sqlite_only(workdir: Path, count: int) -> dict:
    box = Outbox(str(workdir / "raw.sqlite3"), bound=count * 10)
    msgs = [sample(n) for n in range(count)]
    started = time.perf_counter()
    for msg in msgs:
        box.add(msg, evwire.dumps(msg))
    samples_s = count / (time.perf_counter() - started)
    completions = [evwire.make(t.CHARGE_COMPLETION, cp_id="CP1", session_id=f"S{n}",
                               energy_consumed_kwh=1.0, total_cost=0.3) for n in range(200)]
    started = time.perf_counter()
    for msg in completions:
        box.add(msg, evwire.dumps(msg))
    completions_s = len(completions) / (time.perf_counter() - started)
    box.close()
    return {"samples_per_s": round(samples_s), "completions_per_s_fsync": round(completions_s)}


MONITOR_ENV = {"EVCHARGE_SECRET": "bench"}  # secrets never go on a command line


def monitor_argv(engine_port: int, outbox: Path, kafka: str) -> list[str]:
    return ["monitor", "--cp-id", "CP1", "--engine",
            f"127.0.0.1:{engine_port}", "--central", f"127.0.0.1:{free_port()}",
            "--kafka", kafka, "--outbox", str(outbox), "--outbox-bound", "10000000",
            "--shutdown-flush", "0.5"]  # info logging, as in production


def consume_delivered(kafka: str, count: int, idle_s: float = 10.0) -> set[str]:
    """The message_ids of the records on cp-events: read until `count` distinct ones
    arrived or none came for `idle_s` (then the rest were lost, and the caller says how
    many). Distinct ids, not records: a duplicate must not hide a loss."""
    consumer = AssignedConsumer(kafka, names.namespace() + "bench", [names.cp_events()])
    values: list[bytes] = []
    ids: set[str] = set()
    last_progress = time.monotonic()
    try:
        while len(ids) < count and time.monotonic() - last_progress < idle_s:
            batch = consumer.consume(1000, 0.1)
            if not batch:
                continue
            last_progress = time.monotonic()
            values.extend(m.value() for m in batch)
            if len(values) >= count:  # decode only then, so timing counts the delivery
                ids.update(evwire.loads(v)["message_id"] for v in values)
                values.clear()
        ids.update(evwire.loads(v)["message_id"] for v in values)
    finally:
        consumer.close()
    return ids


def through_the_monitor(workdir: Path, kafka: str, count: int) -> dict:
    group = ProcessGroup(workdir / "logs")
    engine = BlastEngine()
    try:
        # 1. Stored only: the broker address answers nothing, so every record stays.
        outbox = workdir / "monitor.sqlite3"
        proc = group.evcharge("monitor", monitor_argv(engine.port, outbox,
                                                      f"127.0.0.1:{free_port()}"),
                              env=MONITOR_ENV)
        wait_until(lambda: engine.conn is not None, timeout=20, what="Monitor connected")
        started = time.monotonic()
        engine.blast(count)
        wait_until(lambda: outbox_rows(outbox) >= count, timeout=300, interval=0.05,
                   what="records stored")
        stored_s = count / (time.monotonic() - started)
        proc.terminate()
        engine.conn = None

        # 2. Replay: the same Monitor restarted with a reachable broker empties its outbox
        # (timed from the first confirmed delivery, so start-up is not counted).
        proc = group.evcharge("monitor", monitor_argv(engine.port, outbox, kafka),
                              env=MONITOR_ENV)
        wait_until(lambda: outbox_rows(outbox) < count, timeout=60, interval=0.005,
                   what="first delivery")
        started, left = time.monotonic(), outbox_rows(outbox)
        wait_until(lambda: outbox_rows(outbox) == 0, timeout=300, interval=0.05,
                   what="outbox replayed")
        replay_s = left / (time.monotonic() - started)
        proc.terminate()
        engine.conn = None
        # An empty outbox is not yet "delivered": count what Kafka holds.
        replayed = len(consume_delivered(kafka, count))

        # 3. Live: stored and delivered at the same time, timed until Kafka holds them all.
        os.environ[names.ENV_NAMESPACE] = "bench" + uuid.uuid4().hex[:8] + "."
        ensure_topics(kafka, [names.cp_events()])
        proc = group.evcharge("monitor", monitor_argv(engine.port, workdir / "live.sqlite3",
                                                      kafka), env=MONITOR_ENV)
        wait_ready(proc)
        time.sleep(1.0)  # the producer has connected and found the topic
        started = time.monotonic()
        engine.blast(count)
        live = len(consume_delivered(kafka, count))
        live_s = live / (time.monotonic() - started)
    finally:
        group.close()
        engine.server.close()
    # sent vs delivered per phase: the smoke run fails on any record lost (bench_all.py).
    return {"stored_per_s": round(stored_s), "replayed_to_kafka_per_s": round(replay_s),
            "live_stored_and_delivered_per_s": round(live_s),
            "replay": {"sent": count, "delivered": replayed, "lost": count - replayed},
            "live": {"sent": count, "delivered": live, "lost": count - live}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--kafka", help="an existing broker (default: start a local one)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "monitor.json"))
    parser.add_argument("--skip-faults", action="store_true")
    args = parser.parse_args(argv)
    os.environ[names.ENV_NAMESPACE] = "bench" + uuid.uuid4().hex[:8] + "."
    workdir = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    local = None
    kafka = args.kafka
    if kafka is None:
        port = free_port()
        kafka = f"127.0.0.1:{port}"
        local = broker.spawn(kafka, str(workdir / "broker.log"))
        wait_port("127.0.0.1", port, timeout=20, proc=local)
    result: dict = {
        "command": "tools/bench_monitor.py " + " ".join(argv if argv is not None
                                                        else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "broker": "local Tansu (memory)" if local else kafka,
        "records": args.records,
    }
    try:
        print(f"outbox throughput ({args.records} records)...", flush=True)
        result["outbox"] = {"sqlite_only": sqlite_only(workdir, args.records),
                            "through_monitor": through_the_monitor(workdir, kafka,
                                                                   args.records)}
        print(json.dumps(result["outbox"], indent=2), flush=True)
        if not args.skip_faults:
            print(f"fault detection, {args.runs} runs...", flush=True)
            result["timers"] = PRODUCTION.__dict__
            result["fault_detection"] = fault_detection(workdir, kafka, args.runs)
            print(json.dumps(result["fault_detection"], indent=2), flush=True)
    finally:
        if local is not None:
            local.terminate()
            local.wait(10)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
