"""Central benchmark: N fake Monitors over real TCP, and Kafka telemetry through Central.

For each N (default 100 and 1000) it starts a real broker (own process, unless
--kafka) and a real `evcharge central` (--log-level warning by default, so the
figures are Central's work, not its log volume; --central-log-level info adds
the trace of every handler's entry and exit), provisions N CPs, and then:

1. connects N asyncio Monitors (auth_request with a real MAC, register_request);
2. steady: every Monitor sends a heartbeat each second for --steady seconds;
   reports heartbeat round trips (p50/p99) and frames/s handled;
3. saturation: every Monitor sends its next heartbeat as soon as the previous
   one is answered, for --burst seconds: Central's frames/s capacity;
4. telemetry: --sessions live sessions (charge_request over TCP, start command
   answered by the fake Monitor), then --records charging_data records produced
   to cp-events as fast as possible; counts what Central forwards to
   driver-events (2 records per input: the data and a charging_status_update).

Central's RSS (VmRSS) is read after each phase, and its peak (VmHWM) at the end.
The clients run on the same machine as Central (and share its cores).

    .venv/bin/python tools/bench_central.py [--monitors 100 1000] [--out bench/central.json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from evcentral.db import Database
from evharness.procs import ProcessGroup, free_port, wait_port, wait_until
from evkafka import names
from evkafka.broker import spawn
from evkafka.client import AssignedConsumer, ensure_topics, make_producer
from evwire import FrameDecoder, dumps, encode_frame, loads, make
from evwire import types as t
from evwire.auth import make_auth_request, make_driver_auth_request, sign_record
from evwire.compat import unix_time

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "central.json"
COMMAND = ".venv/bin/python tools/bench_central.py"


class Peer:
    """One framed-CBOR TCP peer of Central; answers start commands like a Monitor would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder(1 << 20)
        self.inbox: list[dict] = []

    async def request(self, msg: dict) -> dict:
        self.writer.write(encode_frame(msg))
        while True:
            for i, got in enumerate(self.inbox):
                if got.get("message_id") == msg["message_id"] and "status" in got:
                    return self.inbox.pop(i)
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("Central closed the connection")
            for got in self.decoder.feed(data):
                if got["type"] == t.START_CHARGING_COMMAND:
                    self.writer.write(encode_frame(make(
                        t.COMMAND_RESPONSE, got["message_id"], cp_id=got["cp_id"],
                        command=got["type"], status=t.SUCCESS, message="started",
                        session_id=got["session_id"])))
                else:
                    self.inbox.append(got)


async def open_monitor(host: str, port: int, cp_id: str, secret: str) -> Peer:
    peer = Peer(*await asyncio.open_connection(host, port))
    assert (await peer.request(make_auth_request(cp_id, secret)))["status"] == t.SUCCESS
    reg = make(t.REGISTER_REQUEST, cp_id=cp_id, timestamp=unix_time(), max_charging_rate_kw=22.0)
    assert (await peer.request(reg))["status"] == t.SUCCESS
    return peer


def heartbeat(cp_id: str) -> dict:
    return make(t.HEARTBEAT_REQUEST, cp_id=cp_id, status=t.CP_AVAILABLE, timestamp=unix_time())


async def steady(peers: dict[str, Peer], seconds: float) -> list[float]:
    rtts: list[float] = []

    async def beat(cp_id: str, peer: Peer, offset: float) -> None:
        await asyncio.sleep(offset)
        end = time.monotonic() + seconds - offset
        while time.monotonic() < end:
            start = time.monotonic()
            await peer.request(heartbeat(cp_id))
            rtts.append(time.monotonic() - start)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - start)))

    n = len(peers)
    await asyncio.gather(*(beat(cp, p, i / n) for i, (cp, p) in enumerate(peers.items())))
    return rtts


async def saturate(peers: dict[str, Peer], seconds: float) -> int:
    answered = 0
    end = time.monotonic() + seconds

    async def loop(cp_id: str, peer: Peer) -> None:
        nonlocal answered
        while time.monotonic() < end:
            await peer.request(heartbeat(cp_id))
            answered += 1

    await asyncio.gather(*(loop(cp, p) for cp, p in peers.items()))
    return answered


def driver_secret(driver_id: str) -> str:
    return f"bench-secret-of-{driver_id}"


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def telemetry(bootstrap: str, sessions: list[tuple[str, str, str]], records: int,
              secrets: dict[str, str]) -> dict:
    """Produce charging_data for live sessions (signed with each CP's secret, as a
    Monitor does); time what arrives on driver-events."""
    consumer = AssignedConsumer(bootstrap, names.namespace() + "bench-tap",
                                [names.driver_events()])
    producer = make_producer(bootstrap, client_id="bench-central")
    expected = 2 * records
    got = 0
    latencies: list[float] = []
    start = time.monotonic()
    for i in range(records):
        cp_id, session_id, driver_id = sessions[i % len(sessions)]
        msg = make(t.CHARGING_DATA, cp_id=cp_id, session_id=session_id, driver_id=driver_id,
                   energy_consumed_kwh=round(i * 0.001, 3), total_cost=0.0, charging_rate=11.0,
                   timestamp=unix_time(), created_ms=int(time.time() * 1000))
        sign_record(msg, secrets[cp_id])
        while True:
            try:
                producer.produce(names.cp_events(), key=cp_id.encode(), value=dumps(msg))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)
    produced = time.monotonic()
    deadline = produced + 120
    while got < expected and time.monotonic() < deadline:
        for rec in consumer.consume(1000, timeout=0.5):
            got += 1
            value = rec.value()
            if b"created_ms" in value:  # a forwarded charging_data (value unchanged)
                latencies.append(time.time() * 1000 - loads(value)["created_ms"])
    elapsed = time.monotonic() - start
    one_by_one = []
    for i in range(20):  # unloaded: one record at a time, wait for its forwarded copy
        cp_id, session_id, driver_id = sessions[i % len(sessions)]
        msg = make(t.CHARGING_DATA, cp_id=cp_id, session_id=session_id, driver_id=driver_id,
                   energy_consumed_kwh=1.0, total_cost=0.3, charging_rate=11.0,
                   timestamp=unix_time())
        sign_record(msg, secrets[cp_id])
        sent = time.monotonic()
        producer.produce(names.cp_events(), key=cp_id.encode(), value=dumps(msg))
        producer.flush(10)
        while not any(rec.value() == dumps(msg) for rec in consumer.consume(10, timeout=0.05)):
            if time.monotonic() - sent > 30:
                break
        one_by_one.append((time.monotonic() - sent) * 1000)
    consumer.close()
    return {
        "records_in": records, "driver_events_out": got, "complete": got >= expected,
        "produce_s": round(produced - start, 3), "elapsed_s": round(elapsed, 3),
        "records_per_s": round(records / elapsed, 1),
        "driver_events_per_s": round(got / elapsed, 1),
        "flood_forward_latency_ms_p50": (round(statistics.median(latencies), 1)
                                         if latencies else None),
        "unloaded_forward_latency_ms_p50": round(statistics.median(one_by_one), 1),
        "unloaded_forward_latency_ms_max": round(max(one_by_one), 1),
    }


async def drive(host: str, port: int, secrets: dict[str, str], args, pid: int) -> dict:
    result: dict = {}
    start = time.monotonic()
    peers: dict[str, Peer] = {}
    for chunk in range(0, len(secrets), 100):  # connect in waves: no SYN flood on a small box
        ids = list(secrets)[chunk:chunk + 100]
        opened = await asyncio.gather(*(open_monitor(host, port, cp, secrets[cp]) for cp in ids))
        peers.update(zip(ids, opened))
    result["connect_s"] = round(time.monotonic() - start, 3)
    result["rss_kb_connected"] = rss_kb(pid)

    rtts = sorted(await steady(peers, args.steady))
    result["steady"] = {
        "heartbeats": len(rtts), "frames_per_s": round(len(rtts) / args.steady, 1),
        "rtt_ms_p50": round(rtts[len(rtts) // 2] * 1000, 2),
        "rtt_ms_p99": round(rtts[int(len(rtts) * 0.99)] * 1000, 2),
    }
    result["rss_kb_steady"] = rss_kb(pid)
    answered = await saturate(peers, args.burst)
    result["saturation"] = {"heartbeats": answered,
                            "frames_per_s": round(answered / args.burst, 1)}
    result["rss_kb_saturation"] = rss_kb(pid)

    sessions = []
    for i, cp_id in enumerate(list(peers)[:args.sessions]):
        # A driver's connection proves who it is first (run_one provisioned BD<i>).
        driver_id = f"BD{i}"
        driver = Peer(*await asyncio.open_connection(host, port))
        await driver.request(make_driver_auth_request(driver_id, driver_secret(driver_id)))
        reply = await driver.request(make(t.CHARGE_REQUEST, cp_id=cp_id, driver_id=driver_id,
                                          timestamp=unix_time()))
        driver.writer.close()
        sessions.append((cp_id, reply["session_id"], driver_id))
    # Start commands are answered when each Monitor next reads: one heartbeat round.
    await asyncio.gather(*(peers[cp].request(heartbeat(cp)) for cp, _s, _d in sessions))
    result["sessions"] = len(sessions)
    result["_sessions"] = sessions
    return result


def run_one(n: int, args, bootstrap: str, workdir: Path) -> dict:
    os.environ[names.ENV_NAMESPACE] = f"bench{uuid.uuid4().hex[:8]}."
    ensure_topics(bootstrap, names.all_topics())
    db_path = workdir / f"central-{n}.db"
    db = Database(db_path)
    secrets = {f"CP{i:05d}": f"secret-{i}" for i in range(n)}
    with db.transaction() as c:
        c.executemany("INSERT INTO cps (cp_id, location, max_kw, secret_enc, created_at)"
                      " VALUES (?, '', 11.0, ?, 0)",
                      [(cp, db.box.encrypt(s)) for cp, s in secrets.items()])
    for i in range(min(n, args.sessions)):
        db.add_driver(f"BD{i}")
        db.set_driver_secret(f"BD{i}", driver_secret(f"BD{i}"))
    db.close()
    port = free_port()
    group = ProcessGroup(workdir / f"logs-{n}")
    central = group.evcharge("central", [
        "central", "--listen", f"127.0.0.1:{port}", "--db", str(db_path), "--kafka", bootstrap,
        "--log-level", args.central_log_level, "--heartbeat-timeout", "30"])
    try:
        wait_port("127.0.0.1", port, timeout=60, proc=central.popen)
        wait_until(lambda: "ready listening" in central.log(), timeout=30, what="Central ready")
        result = asyncio.run(drive("127.0.0.1", port, secrets, args, central.pid))
        sessions = result.pop("_sessions")
        result["telemetry"] = telemetry(bootstrap, sessions, args.records, secrets)
        result["rss_kb_end"] = rss_kb(central.pid)
        result["rss_kb_peak"] = rss_kb(central.pid, "VmHWM")
    finally:
        group.close()
    return {"monitors": n, **result}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--monitors", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--steady", type=float, default=10.0, help="seconds of 1 Hz heartbeats")
    p.add_argument("--burst", type=float, default=5.0, help="seconds of back-to-back beats")
    p.add_argument("--sessions", type=int, default=50, help="live sessions for telemetry")
    p.add_argument("--records", type=int, default=20000, help="charging_data records")
    p.add_argument("--kafka", help="use this broker instead of starting one")
    p.add_argument("--central-log-level", default="warning",
                   help="Central's --log-level (info: every handler's entry/exit is logged)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-central-"))
    broker = None
    bootstrap = args.kafka
    if not bootstrap:
        bootstrap = f"127.0.0.1:{free_port()}"
        broker = spawn(bootstrap, str(workdir / "broker.log"))
        host, port = bootstrap.rsplit(":", 1)
        wait_port(host, int(port), 20, broker)
    runs = []
    try:
        for n in args.monitors:
            print(f"-- {n} Monitors", flush=True)
            run = run_one(n, args, bootstrap, workdir)
            print(json.dumps(run, indent=2), flush=True)
            runs.append(run)
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(15)
    report = {"command": COMMAND, "python": platform.python_version(),
              "cpus": os.cpu_count(), "broker": "external" if args.kafka else "local Tansu",
              "settings": {k: v for k, v in vars(args).items() if k not in ("out", "kafka")},
              "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    for run in runs:
        print(f"N={run['monitors']:>5}: saturation {run['saturation']['frames_per_s']:>8} "
              f"frames/s, steady p99 {run['steady']['rtt_ms_p99']} ms, telemetry "
              f"{run['telemetry']['records_per_s']} records/s, RSS peak "
              f"{run['rss_kb_peak'] / 1024:.1f} MiB")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
