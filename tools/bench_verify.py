"""Verification benchmark: what believing only verified records costs, per record.

In one process and one run, on the same records (charging_data of 50 CPs, each
signed with its CP's secret as a Monitor signs it), it times:

- central before: what Central did per cp-events record before records were
  signed: decode (evwire.loads) and validate against the catalogue;
- central after: the same plus record_check.RecordCheck.cp_event (key = cp_id,
  mac verified with the CP's secret from Central's real SQLite database, cached
  as Central caches it; numbers in range; the session exists and is this CP's);
- mac only: the MAC check alone, Central's (record_check.record_verifies, C HMAC)
  and the portable one every tier shares (evwire.auth.record_verifies, pure Python
  for MicroPython), which compute the same MAC;
- monitor sign: the Monitor's produce-time work (decode the Engine's payload,
  sign_record, encode), against handing the payload on as it is (nothing).

Each figure is the best of --repeats rounds (each round runs every measurement in
turn for --seconds), in records per second of one core; the difference between
before and after is the cost of verification. Figures go to bench/verify.json.

    .venv/bin/python tools/bench_verify.py [--seconds 2] [--repeats 3] [--out bench/verify.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from evcentral.db import Database
from evcentral.kafka_records import TELEMETRY_TYPES, TelemetryHandlers
from evcentral.record_check import RecordCheck
from evcentral.record_check import record_verifies as central_verifies
from evcentral.telemetry import Record
from evwire import dumps, loads, make
from evwire import types as t
from evwire.auth import record_verifies, sign_record
from evwire.dispatch import Dispatcher

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "verify.json"
COMMAND = ".venv/bin/python tools/bench_verify.py"
CPS = 50


def records(db: Database) -> tuple[list[Record], list[bytes], dict]:
    """Signed charging_data records of CPS charge points, their unsigned payloads, and
    the live sessions they name."""
    recs, payloads, sessions = [], [], {}
    for i in range(CPS):
        cp_id, secret = f"CP{i:03d}", f"secret-{i}"
        db.add_cp(cp_id, secret, "", 22.0, None)
        session_id = f"S-{i:03d}"
        sessions[session_id] = SimpleNamespace(cp_id=cp_id, session_id=session_id)
        msg = make(t.CHARGING_DATA, cp_id=cp_id, session_id=session_id, driver_id=f"D{i}",
                   energy_consumed_kwh=4.127, total_cost=1.24, charging_rate=11.0,
                   timestamp=1767225600, created_ms=1767225600123, price_per_kwh=0.30)
        payloads.append(dumps(msg))
        recs.append(Record("cp-events", 0, i, cp_id.encode(), dumps(sign_record(msg, secret))))
    return recs, payloads, sessions


def rates(works: dict[str, Callable[[], int]], seconds: float, repeats: int) -> dict:
    """Best records/s of each work() (which handles a batch and returns its size) over
    `repeats` rounds; each round runs every work in turn for `seconds`, so that load
    from other work on the machine falls on all of them alike."""
    best = dict.fromkeys(works, 0.0)
    for _ in range(repeats):
        for name, work in works.items():
            done, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                done += work()
            best[name] = max(best[name], done / elapsed)
    return {name: round(value, 1) for name, value in best.items()}


def measure(seconds: float, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "central.db")
        recs, payloads, sessions = records(db)
        hub = SimpleNamespace(db=db, sessions=SimpleNamespace(get=sessions.get))
        check = RecordCheck(hub)
        telemetry = Dispatcher(TelemetryHandlers(SimpleNamespace(sessions=None)),
                               TELEMETRY_TYPES)
        secrets = {f"CP{i:03d}": f"secret-{i}" for i in range(CPS)}

        def before() -> int:
            for rec in recs:
                telemetry.resolve(loads(rec.value))
            return len(recs)

        def after() -> int:
            for rec in recs:
                msg = loads(rec.value)
                telemetry.resolve(msg)
                check.cp_event(rec, msg)
            return len(recs)

        decoded = [loads(rec.value) for rec in recs]

        def mac_portable() -> int:
            for msg in decoded:
                record_verifies(msg, secrets[msg["cp_id"]])
            return len(decoded)

        def mac_central() -> int:
            for msg in decoded:
                central_verifies(msg, secrets[msg["cp_id"]])
            return len(decoded)

        def monitor_sign() -> int:
            for payload, msg in zip(payloads, decoded):
                dumps(sign_record(loads(payload), secrets[msg["cp_id"]]))
            return len(payloads)

        result = rates({
            "central_before_records_per_s": before,
            "central_after_records_per_s": after,
            "mac_verify_central_per_s": mac_central,
            "mac_verify_portable_per_s": mac_portable,
            "monitor_sign_records_per_s": monitor_sign,
        }, seconds, repeats)
        db.close()
    before_us = 1e6 / result["central_before_records_per_s"]
    after_us = 1e6 / result["central_after_records_per_s"]
    result["central_before_us_per_record"] = round(before_us, 1)
    result["central_after_us_per_record"] = round(after_us, 1)
    result["verification_us_per_record"] = round(after_us - before_us, 1)
    result["monitor_sign_us_per_record"] = round(1e6 / result["monitor_sign_records_per_s"], 1)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=2.0, help="length of one timed run")
    p.add_argument("--repeats", type=int, default=3, help="runs per figure (the best is kept)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.repeats < 1:
        p.error("--seconds must be > 0 and --repeats >= 1")
    figures = measure(args.seconds, args.repeats)
    report = {"command": COMMAND, "python": platform.python_version(),
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "machine": platform.machine(), "date": time.strftime("%Y-%m-%d"),
              "records": CPS, **figures}
    for key, value in figures.items():
        print(f"{key:34} {value:>12,.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
