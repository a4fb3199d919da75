"""bench/report.md from the collected figures (bench/report.json), and its structure check."""
from __future__ import annotations

from evbench import goals
from evbench.headline import completed_steps, headline
from evbench.report_load import heartbeat_cost, hub_explanations, hub_section
from evbench.report_parts import (
    codec_section,
    faults_section,
    firmware_section,
    profiling_section,
)
from evbench.report_ramp import ramp_comparison

REQUIRED_SECTIONS = (
    "# Benchmarks",
    "## Machine",
    "## Goals",
    "## Hub under load",
    "### Reconnect storm",
    "## Fault detection",
    "## Firmware",
    "## Codec",
    "## Profiling",
    "## Where the goals are missed, and why",
    "## Reproducing",
)


def machine_section(machine: dict) -> list[str]:
    rows = [("date (UTC)", machine.get("date_utc")), ("commit", machine.get("commit")),
            ("cores", machine.get("cores")), ("CPU", machine.get("cpu")),
            ("memory", f"{machine.get('memory_gib')} GiB"), ("OS", machine.get("os")),
            ("Python", machine.get("python")), ("MicroPython", machine.get("micropython")),
            ("Kafka broker", machine.get("kafka_broker")),
            ("librdkafka", machine.get("librdkafka")),
            ("load average at start (1, 5, 15 min)", machine.get("load_average_at_start"))]
    return ["## Machine", "", "| | |", "|:---|:---|",
            *[f"| {name} | {value if value is not None else '-'} |" for name, value in rows],
            "", "Everything ran on this one machine: Central, the broker, the load generator "
            "and, for the fault-detection runs, the whole network. Other work on the machine "
            "shows in the load average.", ""]


def goals_section(rows: list[dict]) -> list[str]:
    lines = ["## Goals", "", "| goal | target | measured | verdict | |",
             "|:---|:---|:---|:---|:---|"]
    for row in rows:
        lines.append(f"| {row['goal']} | {row['target']} | {row['measured']} | "
                     f"**{row['verdict']}** | {row['note']} |")
    return lines + [""]


def _engine_why(engine: dict) -> str:
    heap = engine.get("heap") or {}
    romfs = engine.get("romfs") or {}
    start, live = heap.get("heap_at_start_bytes"), heap.get("live_peak_bytes")
    session = heap.get("session_dynamic_bytes")
    text = (f"Engine heap: the live peak is {live / 1024:.1f} KB, of which "
            f"{start / 1024:.1f} KB is already in use once booted: on the unix port the .mpy "
            "bytecode of the Engine and the wire package is loaded into the heap. The session "
            f"itself adds only {session / 1024:.1f} KB.") if live and start and session else \
        "Engine heap: see the firmware section."
    beyond = romfs.get("live_peak_beyond_image_bytes")
    if beyond is not None:
        verdict = "within" if beyond <= goals.GOAL_ENGINE_HEAP_BYTES else "still above"
        text += (f" Executed in place from a ROMFS image (as on a board with a ROMFS "
                 f"partition), the heap beyond the code is {beyond / 1024:.1f} KB, {verdict} "
                 "the 48 KB goal.")
    return text


def _request_why(load: dict) -> str:
    steps = completed_steps(load)
    if not steps:
        return "request -> command: not measured."
    step = max(steps, key=lambda s: s["cps"])
    probe = ((step.get("probes") or {}).get("request_to_command")) or {}
    beat = (step.get("heartbeat_rtt") or {}).get("p99_ms")
    return (f"request -> command at N = {step['cps']:,}: p99 {probe.get('p99_ms')} ms. Central "
            "handles every connection and every Kafka batch on one event loop, so a request "
            "waits behind the work already queued there; the heartbeat round trip p99 at the "
            f"same load was {beat} ms, the same delay seen by every request.")


def why_section(data: dict, rows: list[dict]) -> list[str]:
    load = data.get("load") or {}
    missed = {row["goal"]: row for row in rows if row["verdict"] != "met"}
    lines = ["## Where the goals are missed, and why", ""]
    if not missed:
        return lines + ["Every goal was met in this run.", ""]
    for goal, row in missed.items():
        lines.append(f"- **{goal}** ({row['verdict']}: {row['measured']}, target "
                     f"{row['target']}).")
    lines.append("")
    if any(key.startswith("charge points at 1 Hz") for key in missed):
        lines += ["Hub:", "", *hub_explanations(load, (data.get("machine") or {}).get("cores")),
                  *heartbeat_cost(load)]
        for skipped in load.get("skipped", []):
            lines.append(f"- N = {skipped['cps']:,} was not run: {skipped['why']}.")
        lines.append("")
    if any(key.startswith("charge_request") for key in missed):
        lines += [f"- {_request_why(load)}", ""]
    if any(key.startswith("Engine heap") for key in missed):
        lines += [f"- {_engine_why(data.get('engine') or {})}", ""]
    if any(key.startswith("reconnect storm") for key in missed):
        lines += ["- Reconnect storm: measured only for the N the ramp reached (see the "
                  "storm table); a larger N needs the ramp to get there first.", ""]
    return lines


def reproduce_section(data: dict) -> list[str]:
    return ["## Reproducing", "",
            "```", data.get("command", "make bench"), "```", "",
            "`make bench` runs everything (about 10 minutes) and writes bench/report.md, "
            "bench/report.png and bench/report.json (with every raw figure); `make bench-smoke`"
            " runs the same with N = 50 in under a minute and writes to bench/smoke/. The "
            "parts run alone: `python -m evbench.loadgen --help`, `tools/bench_monitor.py`, "
            "`tools/bench_engine.py`, `tools/bench_wire.py`. Timings vary with whatever else "
            "the machine is doing; compare figures from the same machine only.", ""]


def render(data: dict, plot_name: str) -> str:
    machine = data.get("machine") or {}
    rows = headline(data)
    lines = ["# Benchmarks", "",
             f"Written by `{data.get('command', 'tools/bench_all.py')}` ({data.get('mode')} run, "
             f"{data.get('duration_s', '?')} s) on {machine.get('date_utc', '?')}. Raw figures: "
             "report.json beside this file.", ""]
    lines += machine_section(machine)
    lines += goals_section(rows)
    lines += hub_section(data.get("load") or {}, machine.get("cores"), plot_name)
    lines += faults_section(data.get("monitor"))
    lines += firmware_section(data.get("engine"))
    lines += codec_section(data.get("wire"))
    lines += profiling_section(data.get("profile_before"),
                               (data.get("load") or {}).get("profile"))
    lines += ramp_comparison(data.get("profile_before"), data.get("load") or {})
    lines += why_section(data, rows)
    lines += reproduce_section(data)
    return "\n".join(lines)


def structure_problems(text: str) -> list[str]:
    """What a report lacks (empty: it has every section, table and the figure)."""
    problems = [f"missing section '{s}'" for s in REQUIRED_SECTIONS
                if f"\n{s}\n" not in f"\n{text}\n"]
    if "![" not in text:
        problems.append("missing the latency figure")
    if "| goal | target | measured | verdict |" not in text:
        problems.append("missing the goals table")
    return problems
