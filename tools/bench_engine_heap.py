"""The Engine's heap through one full session, and the smallest heap it fits in.

Runs the Engine under the MicroPython unix port with its bundle in a ROMFS
image executed in place (as a board with a ROMFS partition runs it; the
nearest the unix port comes to frozen code) against the virtual hardware
(tools/evsim, time scale 10, Engine tick 0.1 s: one tick per simulated
second), with a Monitor stand-in driving one full session:

    health check, start_charging_command, --data charging_data records
    (60: one simulated minute, about 6 s of wall time), set_charging_limit
    (7.4 kW for 60 s, answered with command_response), more charging_data,
    stop_charging_command, charge_completion, a reconnect that gets the
    completion again, its ack, a last health check.

Prints the Engine's own heap report (gc.mem_alloc() after each tick's
collect: the live peak) and bisects (1 KB steps) the smallest -X heapsize
with which the whole session completes without a MemoryError. On the unix
port the ROMFS image is a bytes object in that heap, so "beyond the code"
is the figure less the image (on a board the image is flash).

    python tools/bench_engine_heap.py [--data 60] [--no-bisect]
    python tools/bench_engine_heap.py --check-kb N    exit 0 iff the session fits in
                                                       N KB of heap beyond the image

Writes bench/engine_heap.json (not with --check-kb). `make bench-heap`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_engine import HEAP_LINE, START_LINE, Bench, build_romfs
from build_firmware import build, default_mpy_cross
from engine_import_cost import romfs_cost

import evwire
from evengine.probe import MonitorProbe, ProbeTimeout
from evwire import types as t

ROOT = Path(__file__).resolve().parents[1]
GOAL_HEAP = 48 * 1024
LIMIT_KW = 7.4


class HeapBench(Bench):
    """bench_engine.Bench with a fast tick and the full session of this bench."""

    def __init__(self, work: Path, shim: Path, data: int):
        super().__init__(work, "", shim)
        self.overrides = {"tick_s": 0.1}  # one tick per simulated second (time scale 10)
        self.data = data
        self.limit_answer: dict | None = None

    def session(self, port: int, seconds: float, session_id: str) -> None:
        probe = MonitorProbe("127.0.0.1", port)
        probe.health()
        reply = probe.start(session_id)
        if reply.get("status") != t.SUCCESS:
            raise ProbeTimeout(f"start refused: {reply}")
        self._records(probe, self.data)
        limit = probe.send(evwire.make(t.SET_CHARGING_LIMIT, cp_id="CP1", limit_kw=LIMIT_KW,
                                       hold_s=60, session_id=session_id))
        self.limit_answer = probe.reply_to(limit)
        if self.limit_answer.get("status") != t.SUCCESS:
            raise ProbeTimeout(f"set_charging_limit refused: {self.limit_answer}")
        self._records(probe, 10)
        probe.stop(session_id)
        done = probe.wait_type(t.CHARGE_COMPLETION)
        probe.close()
        probe = MonitorProbe("127.0.0.1", port)  # gets the completion again
        again = probe.wait_type(t.CHARGE_COMPLETION)
        probe.ack(again)
        if done["message_id"] != again["message_id"]:
            raise ProbeTimeout("completion resent with another message_id")
        probe.health()
        probe.close()

    @staticmethod
    def _records(probe: MonitorProbe, count: int) -> None:
        # A deadline, not a sleep: 0.1 s a record, generously.
        for _ in range(count):
            probe.wait_type(t.CHARGING_DATA, timeout=5.0)


def measure(bench: HeapBench) -> dict:
    proc, port = bench.engine("512k")
    if port is None:
        raise RuntimeError("the Engine did not start:\n" + proc.log())
    started = time.monotonic()
    bench.session(port, 0, "S-heap")
    wall = time.monotonic() - started
    log = bench.stop(proc)
    peak, start = HEAP_LINE.search(log), START_LINE.search(log)
    if not peak or not start:
        raise RuntimeError("no heap report in the Engine's log:\n" + log[-2000:])
    return {"live_peak_bytes": int(peak.group(1)), "at_tick_peak_bytes": int(peak.group(2)),
            "heap_at_start_bytes": int(start.group(1)), "session_wall_s": round(wall, 1),
            "limit_reply": bench.limit_answer.get("message") if bench.limit_answer else None}


def prepare(work: Path) -> tuple[Path, int]:
    """Build the bundle and its ROMFS image; (the shim to run, the image's bytes)."""
    bundle = work / "firmware"
    build(bundle, default_mpy_cross())
    shim = build_romfs(bundle, work)
    return shim, (work / "engine.romfs").stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=int, default=60,
                        help="charging_data records before the limit change (simulated seconds)")
    parser.add_argument("--no-bisect", action="store_true")
    parser.add_argument("--check-kb", type=int, metavar="N",
                        help="only run the session with N KB of heap beyond the ROMFS image "
                             "(-X heapsize= image + N KB); exit 1 if it fails")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "engine_heap.json")
    args = parser.parse_args(argv)
    if args.data < 1:
        parser.error("--data must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-heap-") as tmp:
        work = Path(tmp)
        shim, image = prepare(work)
        bench = HeapBench(work, shim, args.data)
        try:
            if args.check_kb is not None:
                heap_kb = -(-(image + args.check_kb * 1024) // 1024)
                fits = bench.survives(heap_kb, 0)
                print(f"session in {args.check_kb} KB beyond the {image}-byte ROMFS image "
                      f"(-X heapsize={heap_kb}k): {'completes' if fits else 'FAILS'}")
                if not fits:
                    print(bench.procs.procs[-1].log()[-3000:] if bench.procs.procs else "")
                return 0 if fits else 1
            result = {"goal_heap_bytes": GOAL_HEAP, "data_records": args.data,
                      "romfs_image_bytes": image, **measure(bench)}
            result["live_peak_beyond_image_bytes"] = result["live_peak_bytes"] - image
            # Interned names the imports add: in flash too once the modules are
            # frozen into the firmware, so the peak less these estimates that case.
            result["imports_qstr_bytes"] = romfs_cost(work / "engine.romfs")["imports_qstr_bytes"]
            result["frozen_estimate_live_peak_bytes"] = (
                result["live_peak_beyond_image_bytes"] - result["imports_qstr_bytes"])
            if not args.no_bisect:
                result["min_heapsize_kb"] = bench.smallest_heap_kb(16, 256, 0)
                result["min_heapsize_beyond_image_bytes"] = result["min_heapsize_kb"] * 1024 - image
        finally:
            bench.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"session: {args.data} + 10 charging_data, a limit change ({result['limit_reply']}), "
          f"stop, completion; {result['session_wall_s']} s wall")
    print(f"ROMFS image (code, flash on a board): {image / 1024:.1f} KB")
    print(f"live heap peak:            {result['live_peak_bytes'] / 1024:.1f} KB, "
          f"{result['live_peak_beyond_image_bytes'] / 1024:.1f} KB beyond the image "
          f"(goal {GOAL_HEAP // 1024} KB)")
    print(f"frozen modules (estimate): {result['frozen_estimate_live_peak_bytes'] / 1024:.1f} KB "
          f"(less {result['imports_qstr_bytes'] / 1024:.1f} KB of interned names)")
    if "min_heapsize_kb" in result:
        print(f"smallest -X heapsize:      {result['min_heapsize_kb']} KB, "
              f"{result['min_heapsize_beyond_image_bytes'] / 1024:.1f} KB beyond the image")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
