"""Engine memory and size figures under the MicroPython unix port.

1. builds the board bundle (`make firmware`) and reports its size;
2. runs the Engine from the bundle (-X heapsize=512k) through one session of
   --seconds against the virtual hardware, with a Monitor stand-in sending a
   health check every second, and reads the Engine's own heap report
   (live peak after each tick's collect, peak at a tick with garbage, the
   allocator's mem_peak) and the heap in use once booted;
3. the same session with the bundle in a ROMFS image executed in place (as a
   board with a ROMFS partition runs it): the heap beyond the image, and how
   much of it is interned names (qstrs), which firmware with the modules
   frozen in keeps in flash too (so: an estimate for frozen modules);
4. what each module costs in heap once imported (tools/engine_import_cost.py),
   from the bundle and from source;
5. bisects the smallest -X heapsize= (1 KB steps) with which a short session
   (start, data, stop, completion, ack, a reconnect) completes cleanly;
   with --from-source also for the source files `evcharge engine
   --runtime micropython` runs.

Writes bench/engine.json and prints the figures. Goal: <= 48 KB heap,
<= 60 KB bundle.

    python tools/bench_engine.py [--seconds 60] [--no-bisect] [--from-source] [--link-key]

--link-key: the Engine demands a (random) link key and every Monitor stand-in
runs the handshake first, as an Engine on a network does (docs/ENGINE.md).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from build_firmware import build, default_mpy_cross
from engine_import_cost import measure as measure_imports
from engine_import_cost import print_table, romfs_cost

from evengine.probe import MonitorProbe, ProbeTimeout
from evharness.engine import wait_ready
from evharness.procs import ProcessGroup, free_port, micropython_binary
from evharness.sim import start_sim

ROOT = Path(__file__).resolve().parents[1]
GOAL_HEAP = 48 * 1024
GOAL_BUNDLE = 60 * 1024
HEAP_LINE = re.compile(r"heap: live peak (\d+) bytes, at-tick peak (\d+), allocator peak (\S+), "
                       r"heap (\d+) bytes")
START_LINE = re.compile(r"heap in use at start: (\d+) bytes")


class Bench:
    def __init__(self, work: Path, code_path: str, main_py: Path, link_key: str | None = None):
        self.work = work
        self.link_key = link_key  # set: the Engine demands it, as one on a network does
        self.procs = ProcessGroup(work / "logs")
        self.sim = start_sim(self.procs, work, "--time-scale", "10")
        self.code_path = code_path  # MICROPYPATH
        self.main_py = main_py
        self.runs = 0
        self.overrides: dict = {}  # Engine config keys a caller sets (tools/bench_engine_heap.py)

    def engine(self, heapsize: str):
        """Start the Engine under micropython; returns (proc, port) or (proc, None)."""
        self.runs += 1
        state = self.work / f"state{self.runs}"
        state.mkdir()
        port = free_port()
        config = {"cp_id": "CP1", "listen": f"127.0.0.1:{port}", "meter": str(self.sim.link),
                  "state_dir": str(state), "tick_s": 1.0, "menu": "off"}
        if self.link_key is not None:
            config["link_key"] = self.link_key
        config.update(self.overrides)
        (state / "config.json").write_text(json.dumps(config))
        (state / "config.json").chmod(0o600)
        proc = self.procs.start(f"engine-{heapsize}", [
            micropython_binary(), "-X", f"heapsize={heapsize}", str(self.main_py),
            str(state / "config.json")], env={"MICROPYPATH": self.code_path})
        try:
            wait_ready(proc, timeout=20)
        except (RuntimeError, TimeoutError):
            return proc, None
        return proc, port

    def session(self, port: int, seconds: float, session_id: str) -> None:
        """One session as a Monitor drives it; raises ProbeTimeout/OSError if it fails."""
        probe = MonitorProbe("127.0.0.1", port, link_key=self.link_key)
        probe.health()
        reply = probe.start(session_id)
        if reply.get("status") != "success":
            raise ProbeTimeout(f"start refused: {reply}")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            probe.health()
            probe.collect(min(1.0, max(0.0, deadline - time.monotonic())))
        probe.stop(session_id)
        done = probe.wait_type("charge_completion")
        probe.close()
        probe = MonitorProbe("127.0.0.1", port, link_key=self.link_key)  # gets it again
        again = probe.wait_type("charge_completion")
        probe.ack(again)
        if done["message_id"] != again["message_id"]:
            raise ProbeTimeout("completion resent with another message_id")
        probe.health()
        probe.close()

    def stop(self, proc) -> str:
        if proc.alive():
            os.kill(proc.pid, signal.SIGINT)  # the unix port's clean shutdown
            try:
                proc.popen.wait(10)
            except subprocess.TimeoutExpired:  # a hung engine is killed, then judged
                proc.kill()
        return proc.log()

    def survives(self, heap_kb: int, seconds: float) -> bool:
        proc, port = self.engine(f"{heap_kb}k")
        ok = port is not None
        if ok:
            try:
                self.session(port, seconds, f"B{heap_kb}")
            except (ProbeTimeout, OSError):
                ok = False
        log = self.stop(proc)
        return ok and "MemoryError" not in log and "failed:" not in log

    def smallest_heap_kb(self, low: int, high: int, seconds: float) -> int:
        if not self.survives(high, seconds):
            raise RuntimeError(f"the Engine does not survive even {high} KB of heap")
        while high - low > 1:
            middle = (low + high) // 2
            if self.survives(middle, seconds):
                high = middle
            else:
                low = middle
            print(f"  heap bisect: {low}..{high} KB", flush=True)
        return high

    def close(self):
        self.procs.close()


def measure_session(bench: Bench, seconds: float) -> dict:
    proc, port = bench.engine("512k")
    if port is None:
        raise RuntimeError("the Engine did not start:\n" + proc.log())
    bench.session(port, seconds, "S-bench")
    log = bench.stop(proc)
    peak = HEAP_LINE.search(log)
    start = START_LINE.search(log)
    if not peak or not start:
        raise RuntimeError("no heap report in the Engine's log:\n" + log[-2000:])
    # micropython.mem_peak counts every allocation until its block is explicitly
    # freed, and the collector frees without telling it: kept for reference only.
    return {"live_peak_bytes": int(peak.group(1)), "at_tick_peak_bytes": int(peak.group(2)),
            "allocator_peak_bytes": None if peak.group(3) == "n/a" else int(peak.group(3)),
            "heap_at_start_bytes": int(start.group(1)),
            "session_dynamic_bytes": int(peak.group(1)) - int(start.group(1))}


ROMFS_SHIM = """# Runs main.py with the bundle mounted from a ROMFS image, as a board with a
# ROMFS partition does (code executed in place, not copied into the heap).
import sys, vfs
with open(%r, "rb") as f:
    image = f.read()
vfs.mount(vfs.VfsRom(image), "/rom")
sys.path.insert(0, "/rom")
with open(%r) as f:
    source = f.read()
exec(source)
"""


def build_romfs(bundle: Path, work: Path) -> Path:
    """A ROMFS image of the bundle's packages (mpremote romfs build)."""
    import shutil

    tree = work / "romfs-tree"
    for package in ("evengine", "evwire"):
        shutil.copytree(bundle / package, tree / package)
    image = work / "engine.romfs"
    mpremote = str(Path(sys.executable).parent / "mpremote")
    subprocess.run([mpremote, "romfs", "--no-mpy", "-o", str(image), "build", str(tree)],
                   check=True, capture_output=True)
    shim = work / "romfs_main.py"
    shim.write_text(ROMFS_SHIM % (str(image), str(bundle / "main.py")))
    return shim


def measure_romfs(work: Path, bundle: Path, seconds: float, link_key: str | None) -> dict:
    shim = build_romfs(bundle, work)
    image_bytes = (work / "engine.romfs").stat().st_size
    (work / "romfs").mkdir()
    bench = Bench(work / "romfs", "", shim, link_key)
    try:
        heap = measure_session(bench, seconds)
    finally:
        bench.close()
    # The image itself sits in the heap here; on a board it is flash.
    beyond = heap["live_peak_bytes"] - image_bytes
    imports = romfs_cost(work / "engine.romfs")
    return {"image_bytes": image_bytes,
            "live_peak_beyond_image_bytes": beyond,
            "heap_at_start_beyond_image_bytes": heap["heap_at_start_bytes"] - image_bytes,
            **imports,
            "frozen_estimate_live_peak_bytes": beyond - imports["imports_qstr_bytes"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="session length")
    parser.add_argument("--bisect-seconds", type=float, default=3.0,
                        help="session length of each heap-size trial")
    parser.add_argument("--no-bisect", action="store_true")
    parser.add_argument("--from-source", action="store_true",
                        help="also bisect the heap for the source files (the CLI's runtime)")
    parser.add_argument("--link-key", action="store_true",
                        help="the Engine demands a (random) link key and every Monitor "
                             "stand-in authenticates, as on a network")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "engine.json")
    args = parser.parse_args(argv)
    link_key = secrets.token_hex(32) if args.link_key else None

    result: dict = {"goal_heap_bytes": GOAL_HEAP, "goal_bundle_bytes": GOAL_BUNDLE,
                    "session_seconds": args.seconds, "link_key": args.link_key}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        work = Path(tmp)
        bundle = work / "firmware"
        sizes = build(bundle, default_mpy_cross())
        result["bundle_bytes"] = sizes["total"]
        result["bundle_parts_bytes"] = {k: v for k, v in sizes.items() if k != "total"}
        print(f"bundle: {sizes['total']} bytes ({sizes['total'] / 1024:.1f} KB)", flush=True)
        result["imports"] = measure_imports(work / "imports", bundle)
        print_table(result["imports"])
        bench = Bench(work, str(bundle), bundle / "main.py", link_key)
        try:
            print(f"session of {args.seconds:g} s from the bundle...", flush=True)
            result["heap"] = measure_session(bench, args.seconds)
            print("the same from a ROMFS image (code in place)...", flush=True)
            result["romfs"] = measure_romfs(work, bundle, min(args.seconds, 10.0), link_key)
            if not args.no_bisect:
                result["min_heapsize_kb"] = bench.smallest_heap_kb(16, 256, args.bisect_seconds)
            if args.from_source:
                (work / "src").mkdir()
                source = Bench(work / "src", f"{ROOT / 'firmware'}:{ROOT / 'shared'}",
                               ROOT / "firmware" / "main.py", link_key)
                try:
                    result["min_heapsize_kb_from_source"] = source.smallest_heap_kb(
                        32, 512, args.bisect_seconds)
                finally:
                    source.close()
        finally:
            bench.close()
    result["micropython"] = micropython_binary()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    heap = result["heap"]
    print(f"heap in use once booted:   {heap['heap_at_start_bytes'] / 1024:.1f} KB")
    print(f"live heap peak (session):  {heap['live_peak_bytes'] / 1024:.1f} KB "
          f"(goal {GOAL_HEAP // 1024} KB)")
    print(f"  of which the session:    {heap['session_dynamic_bytes'] / 1024:.1f} KB")
    print(f"peak at a tick, garbage:   {heap['at_tick_peak_bytes'] / 1024:.1f} KB")
    romfs = result["romfs"]
    print(f"from ROMFS (code in flash): {romfs['live_peak_beyond_image_bytes'] / 1024:.1f} KB "
          f"live peak beyond the {romfs['image_bytes'] / 1024:.1f} KB image, "
          f"{romfs['imports_qstr_bytes'] / 1024:.1f} KB of it qstrs")
    print(f"frozen modules (estimate): {romfs['frozen_estimate_live_peak_bytes'] / 1024:.1f} KB "
          f"(the ROMFS peak less the qstrs)")
    if "min_heapsize_kb" in result:
        print(f"smallest -X heapsize:      {result['min_heapsize_kb']} KB (bundle)")
    if "min_heapsize_kb_from_source" in result:
        print(f"smallest -X heapsize:      {result['min_heapsize_kb_from_source']} KB (source)")
    print(f"bundle:                    {result['bundle_bytes'] / 1024:.1f} KB "
          f"(goal {GOAL_BUNDLE // 1024} KB)")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
