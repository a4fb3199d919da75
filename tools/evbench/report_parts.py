"""The report's other sections: fault detection, firmware, codec, profiling."""
from __future__ import annotations

from evbench import goals

FAULT_ROWS = (
    ("engine_kill_to_faulted", "Engine killed (SIGKILL) -> FAULTED", goals.GOAL_ENGINE_DEATH_S),
    ("engine_freeze_to_faulted", "Engine frozen (SIGSTOP) -> FAULTED",
     goals.GOAL_ENGINE_DEATH_S),
    ("monitor_kill_to_disconnected", "Monitor killed -> DISCONNECTED", None),
    ("monitor_freeze_to_disconnected", "Monitor frozen -> DISCONNECTED", None),
)


def kb(size: float | None) -> str:
    return "-" if size is None else f"{size / 1024:.1f} KB"


def per_s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _missing(name: str, data: dict | None) -> list[str] | None:
    if not data:
        return [f"Not measured ({name} did not run).", ""]
    if data.get("error"):
        return [f"Not measured: {name} failed ({data['error']}).", ""]
    return None


def faults_section(monitor: dict | None) -> list[str]:
    lines = ["## Fault detection", "",
             "`tools/bench_monitor.py`: the real network on this machine (virtual hardware, "
             "Engine, Monitor, Central, broker) with the production timers; Central polled "
             "every 20 ms.", ""]
    missing = _missing("tools/bench_monitor.py", monitor)
    if missing:
        return lines + missing
    faults = monitor.get("fault_detection") or {}
    if not faults:
        lines += ["Fault detection not measured (skipped).", ""]
    else:
        lines += ["| event | median | min | max | runs | goal |", "|:---|---:|---:|---:|---:|:---|"]
        for key, label, goal in FAULT_ROWS:
            row = faults.get(key)
            if not row:
                continue
            target = (f"<= {goal:g} s: {goals.verdict(row['median_s'], goal)}" if goal
                      else "(Central's 3 s heartbeat timeout)" if "freeze" in key else "-")
            lines.append(f"| {label} | {row['median_s']:g} s | {row['min_s']:g} s | "
                         f"{row['max_s']:g} s | {len(row['runs_s'])} | {target} |")
        lines.append("")
    outbox = monitor.get("outbox") or {}
    through = outbox.get("through_monitor") or {}
    if through:
        lines += ["Monitor outbox (records/s): "
                  f"stored {through.get('stored_per_s', '-'):,}, replayed to Kafka "
                  f"{through.get('replayed_to_kafka_per_s', '-'):,}, stored and delivered live "
                  f"{through.get('live_stored_and_delivered_per_s', '-'):,} "
                  f"({monitor.get('records', '?')} records).", ""]
    return lines


def firmware_section(engine: dict | None) -> list[str]:
    lines = ["## Firmware", "",
             "`tools/bench_engine.py`: the Engine from the `make firmware` bundle under the "
             "MicroPython unix port, through a charging session against the virtual meter "
             "and relay; the Engine reports its own heap.", ""]
    missing = _missing("tools/bench_engine.py", engine)
    if missing:
        return lines + missing
    heap = engine.get("heap") or {}
    romfs = engine.get("romfs") or {}
    live = heap.get("live_peak_bytes")
    bundle = engine.get("bundle_bytes")
    lines += ["| figure | value | goal |", "|:---|---:|:---|",
              f"| live heap peak during a {engine.get('session_seconds', '?')} s session | "
              f"{kb(live)} | <= 48 KB: {goals.verdict(live, goals.GOAL_ENGINE_HEAP_BYTES)} |",
              f"| heap in use once booted (mostly the loaded code) | "
              f"{kb(heap.get('heap_at_start_bytes'))} | |",
              f"| heap the session itself adds | {kb(heap.get('session_dynamic_bytes'))} | |",
              f"| peak at a tick, garbage included | {kb(heap.get('at_tick_peak_bytes'))} | |",
              f"| live peak beyond the code, bundle run from ROMFS (code in flash) | "
              f"{kb(romfs.get('live_peak_beyond_image_bytes'))} | |",
              f"| smallest -X heapsize= a session completes in | "
              f"{engine.get('min_heapsize_kb', 'not bisected')}"
              f"{' KB' if 'min_heapsize_kb' in engine else ''} | |",
              f"| bundle (`make firmware`) | {kb(bundle)} | "
              f"<= 60 KB: {goals.verdict(bundle, goals.GOAL_BUNDLE_BYTES)} |",
              ""]
    parts = engine.get("bundle_parts_bytes") or {}
    if parts:
        lines += ["Bundle parts: " + ", ".join(f"{k} {kb(v)}" for k, v in parts.items()) + ".",
                  ""]
    return lines


def codec_section(wire: dict | None) -> list[str]:
    lines = ["## Codec", "", "`tools/bench_wire.py`: one `charging_data` frame encoded and "
             "decoded (CBOR, COBS, CRC), best of the runs.", ""]
    missing = _missing("tools/bench_wire.py", wire)
    if missing:
        return lines + missing
    cpy = wire.get("cpython") or {}
    mpy = wire.get("micropython") or {}
    sizes = wire.get("sizes") or {}
    lines += ["| codec | frames/s (encode + decode) |", "|:---|---:|",
              f"| evwire, CPython + cbor2 | {per_s(cpy.get('evwire_cbor2_frames_per_s'))} |",
              f"| evwire portable codec on CPython | "
              f"{per_s(cpy.get('evwire_portable_codec_frames_per_s'))} |",
              f"| evwire on MicroPython {mpy.get('micropython', '')} | "
              f"{per_s(mpy.get('evwire_frames_per_s'))} |",
              f"| the seed's JSON, CPython | {per_s(cpy.get('seed_json_frames_per_s'))} |",
              "",
              f"Sizes: CBOR payload {sizes.get('cbor_payload_bytes', '-')} bytes, evwire frame "
              f"{sizes.get('evwire_frame_bytes', '-')} bytes, the seed's JSON frame "
              f"{sizes.get('seed_frame_bytes', '-')} bytes.", ""]
    return lines


def _profile_table(profile: dict) -> list[str]:
    lines = ["| function | where | self s | % of busy time |", "|:---|:---|---:|---:|"]
    for row in profile.get("top", []):
        lines.append(f"| `{row['function']}` | {row['where']} | {row['self_s']:.2f} | "
                     f"{row['self_pct_busy']:.1f} |")
    return lines


def _total_table(profile: dict) -> list[str]:
    lines = ["| function | where | total s (callees included) | % of busy time |",
             "|:---|:---|---:|---:|"]
    for row in profile.get("top_total", []):
        lines.append(f"| `{row['function']}` | {row['where']} | {row['total_s']:.2f} | "
                     f"{row['total_pct_busy']:.1f} |")
    return lines


def _profile_figures(label: str, profile: dict) -> str:
    step = profile.get("step") or {}
    tele = step.get("telemetry") or {}
    lat = tele.get("latency") or {}
    probe = ((step.get("probes") or {}).get("request_to_command")) or {}
    busy = profile.get("busy_s")
    total = profile.get("profiled_s")
    share = f"{100 * busy / total:.0f} %" if busy is not None and total else "-"
    return (f"| {label} | {profile.get('cps', '-')} | {share} | "
            f"{(step.get('central') or {}).get('cpu_percent', '-')} % | "
            f"{lat.get('p50_ms', '-')} / {lat.get('p99_ms', '-')} | "
            f"{probe.get('p99_ms', '-')} | "
            f"{((step.get('ramp') or {}).get('request_to_command') or {}).get('p99_ms', '-')} | "
            f"{step.get('drain_s', '-')} s |")


def profiling_section(before: dict | None, after: dict | None) -> list[str]:
    lines = ["## Profiling", "",
             "Central run under pyinstrument (`python -m pyinstrument -r pstats -m "
             "evcharge.cli central ...`) through one load step; wall-clock samples of its "
             "event loop thread. \"Busy\" excludes the time the loop waited in `epoll` for work."
             " The profiler itself slows Central down, so these steps' latencies are worse "
             "than the unprofiled ones above.", ""]
    if not after or after.get("error"):
        lines += [f"Not profiled in this run ({(after or {}).get('error', 'skipped')}).", ""]
    lines += ["| profile | CPs | loop busy | Central CPU in window | telemetry p50 / p99 ms | "
              "request -> command p99 ms (load) | same, ramp | drain (completions, tickets) |",
              "|:---|---:|---:|---:|---:|---:|---:|---:|"]
    if before:
        lines.append(_profile_figures(f"before (recorded {before.get('recorded', '?')})",
                                      before))
    if after and not after.get("error"):
        lines.append(_profile_figures("after (this run)", after))
    lines.append("")
    if before and before.get("note"):
        lines += [before["note"], ""]
    if before:
        lines += [f"Top functions by self time, before ({before.get('commit', '?')}):", "",
                  *_profile_table(before), "", "Central's own functions by total time, before:",
                  "", *_total_table(before), ""]
        if before.get("changes"):
            lines += ["Changes made after that profile:", "",
                      *[f"- {change}" for change in before["changes"]], ""]
    if after and not after.get("error"):
        lines += ["Top functions by self time, after (this run):", "", *_profile_table(after),
                  "", "Central's own functions by total time, after:", "", *_total_table(after),
                  ""]
    return lines
