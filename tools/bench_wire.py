"""Wire benchmark: frames encoded+decoded per second, and frame sizes.

For a typical `charging_data` message it measures, on CPython (in process)
and on MicroPython (a small script run under the venv's micropython binary),
how many frames per second one core can encode (evwire.encode_frame) and
decode (evwire.FrameDecoder.feed) back to back. It prints the frame size
beside the seed's framing of the same message: STX (0x02) + json.dumps +
ETX (0x03) + LRC (one byte, XOR of the JSON bytes), and how many times a
second each interpreter runs evwire.validate() on that message (the cost of
the catalogue's kind and range checks). Figures go to bench/wire.json.

    .venv/bin/python tools/bench_wire.py [--seconds 2] [--repeats 3] [--out bench/wire.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from functools import reduce
from pathlib import Path

import evwire
from evharness.procs import micropython_binary
from evwire import cbor, framing

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "wire.json"
COMMAND = ".venv/bin/python tools/bench_wire.py"

# What an Engine sends every second while charging (seed fields + driver_id).
CHARGING_DATA = {
    "type": "charging_data",
    "message_id": "3f2b8c1e-9a4d-4e57-b1c2-7d8e9f0a1b2c",
    "cp_id": "CP1",
    "session_id": "S-20240601-0001",
    "driver_id": "D1",
    "energy_consumed_kwh": 2.345,
    "total_cost": 0.7,
    "charging_rate": 11.04,
    "timestamp": 1700000000,
}

# Runs under micropython with MICROPYPATH=shared; prints one JSON line.
MP_SCRIPT = """
import json, sys, time
import evwire
msg = %(msg)r
seconds = %(seconds)r
repeats = %(repeats)r
best = 0.0
for _ in range(repeats):
    dec = evwire.FrameDecoder()
    count = 0
    start = time.ticks_ms()
    while True:
        for _ in range(50):
            got = dec.feed(evwire.encode_frame(msg))
        count += 50
        elapsed = time.ticks_diff(time.ticks_ms(), start)
        if elapsed >= seconds * 1000:
            break
    assert got == [msg]
    rate = count * 1000.0 / elapsed
    if rate > best:
        best = rate
vbest = 0.0
for _ in range(repeats):
    count = 0
    start = time.ticks_ms()
    while True:
        for _ in range(50):
            evwire.validate(msg)
        count += 50
        elapsed = time.ticks_diff(time.ticks_ms(), start)
        if elapsed >= seconds * 1000:
            break
    rate = count * 1000.0 / elapsed
    if rate > vbest:
        vbest = rate
print(json.dumps({"frames_per_s": best, "validates_per_s": vbest,
                  "version": ".".join([str(x) for x in sys.implementation.version[:3]]),
                  "frame_bytes": len(evwire.encode_frame(msg))}))
"""


def seed_frame(msg: dict) -> bytes:
    """The seed's framing: STX + JSON + ETX + LRC (XOR of the JSON bytes)."""
    body = json.dumps(msg).encode()
    lrc = reduce(lambda acc, b: acc ^ b, body, 0)
    return b"\x02" + body + b"\x03" + bytes((lrc,))


def rate(round_trip: Callable[[], object], seconds: float, repeats: int) -> float:
    """Best-of-`repeats` round trips per second, each run lasting `seconds`."""
    best = 0.0
    for _ in range(repeats):
        count = 0
        start = time.perf_counter()
        while True:
            for _ in range(50):
                round_trip()
            count += 50
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, count / elapsed)
    return best


def evwire_round_trip(msg: dict) -> Callable[[], object]:
    decoder = evwire.FrameDecoder()

    def once():
        got = decoder.feed(evwire.encode_frame(msg))
        assert len(got) == 1
    return once


def seed_round_trip(msg: dict) -> Callable[[], object]:
    def once():
        frame = seed_frame(msg)
        body = frame[1:-2]
        assert reduce(lambda acc, b: acc ^ b, body, 0) == frame[-1]
        return json.loads(body)
    return once


def cpython_figures(seconds: float, repeats: int) -> dict:
    figures = {"python": platform.python_version()}
    figures["evwire_cbor2_frames_per_s"] = rate(evwire_round_trip(CHARGING_DATA), seconds, repeats)
    original = framing.dumps, framing.loads
    framing.dumps, framing.loads = cbor.dumps, cbor.loads  # the MicroPython code path
    try:
        figures["evwire_portable_codec_frames_per_s"] = rate(
            evwire_round_trip(CHARGING_DATA), seconds, repeats)
    finally:
        framing.dumps, framing.loads = original
    figures["seed_json_frames_per_s"] = rate(seed_round_trip(CHARGING_DATA), seconds, repeats)
    figures["validate_per_s"] = rate(lambda: evwire.validate(CHARGING_DATA), seconds, repeats)
    return figures


def micropython_figures(binary: str, seconds: float, repeats: int) -> dict:
    script = MP_SCRIPT % {"msg": CHARGING_DATA, "seconds": seconds, "repeats": repeats}
    done = subprocess.run(
        [binary, "-X", "heapsize=4M", "-c", script], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "MICROPYPATH": "shared"}, timeout=60 + 2 * seconds * repeats,
    )
    if done.returncode != 0:
        raise RuntimeError(f"micropython benchmark failed: {done.stderr.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"micropython": result["version"], "evwire_frames_per_s": result["frames_per_s"],
            "validate_per_s": result["validates_per_s"], "frame_bytes": result["frame_bytes"]}


def sizes() -> dict:
    payload = evwire.dumps(CHARGING_DATA)
    return {"cbor_payload_bytes": len(payload),
            "evwire_frame_bytes": len(evwire.encode_frame(CHARGING_DATA)),
            "json_body_bytes": len(json.dumps(CHARGING_DATA).encode()),
            "seed_frame_bytes": len(seed_frame(CHARGING_DATA))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (best kept)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--micropython", default=None, help="binary (default: the venv's)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.repeats < 1:
        parser.error("--seconds must be > 0 and --repeats >= 1")

    size = sizes()
    cpy = cpython_figures(args.seconds, args.repeats)
    try:
        mpy = micropython_figures(args.micropython or micropython_binary(),
                                  args.seconds, args.repeats)
    except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        print(f"bench_wire: MicroPython run failed: {exc}", file=sys.stderr)
        return 1
    if mpy["frame_bytes"] != size["evwire_frame_bytes"]:
        print("bench_wire: MicroPython frame size differs from CPython's", file=sys.stderr)
        return 1

    print("charging_data message, encode_frame + FrameDecoder.feed per frame (best of "
          f"{args.repeats} x {args.seconds:g} s, one core)")
    print(f"  CPython {cpy['python']} (cbor2, crc_hqx)      "
          f"{cpy['evwire_cbor2_frames_per_s']:>10,.0f} frames/s")
    print(f"  CPython {cpy['python']} (portable codec)      "
          f"{cpy['evwire_portable_codec_frames_per_s']:>10,.0f} frames/s")
    print(f"  MicroPython {mpy['micropython']:<22}"
          f"{mpy['evwire_frames_per_s']:>10,.0f} frames/s")
    print(f"  seed STX+JSON+ETX+LRC on CPython     "
          f"{cpy['seed_json_frames_per_s']:>10,.0f} frames/s (for reference)")
    print(f"evwire.validate(charging_data): CPython {cpy['validate_per_s']:,.0f}/s, "
          f"MicroPython {mpy['validate_per_s']:,.0f}/s")
    print(f"frame size: evwire {size['evwire_frame_bytes']} bytes "
          f"(CBOR payload {size['cbor_payload_bytes']}); "
          f"seed STX+JSON+ETX+LRC {size['seed_frame_bytes']} bytes "
          f"(JSON {size['json_body_bytes']})")

    report = {"command": COMMAND, "message": CHARGING_DATA, "sizes": size,
              "cpython": cpy, "micropython": mpy, "seconds": args.seconds,
              "repeats": args.repeats, "machine": platform.machine(),
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
