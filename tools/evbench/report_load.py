"""The report's hub sections: load steps, reconnect storms, and why goals are missed."""
from __future__ import annotations

from evbench import goals
from evbench.headline import storm_steps


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} %"


def _count(n: int | None) -> str:
    return f"{n:,}" if n else "none"


def _get(step: dict, *path: str):
    node = step
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def load_table(load: dict) -> list[str]:
    lines = [
        "| CPs | records/s offered | forwarded/s | telemetry p50 / p99 ms | lost | "
        "request -> command p50 / p99 ms (under load) | same, during the ramp | "
        "heartbeat RTT p99 ms | Central CPU / RSS | broker CPU | generator CPU / tick lag p99 ms"
        " | meets goal |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for s in load.get("steps", []):
        tele = s.get("telemetry") or {}
        probe = _get(s, "probes", "request_to_command") or {}
        ramp = _get(s, "ramp", "request_to_command") or {}
        verdict = "yes" if s.get("meets_goal") else "no: " + "; ".join(s.get("failures") or [])
        lost = "-" if tele.get("lost") is None else f"{tele['lost']} of {tele['sent']}"
        lines.append(
            f"| {s['cps']:,} | {tele.get('offered_per_s', '-')}"
            f" | {tele.get('forwarded_per_s', '-')}"
            f" | {ms(_get(tele, 'latency', 'p50_ms'))} / {ms(_get(tele, 'latency', 'p99_ms'))}"
            f" | {lost}"
            f" | {ms(probe.get('p50_ms'))} / {ms(probe.get('p99_ms'))}"
            f" | {ms(ramp.get('p50_ms'))} / {ms(ramp.get('p99_ms'))}"
            f" | {ms(_get(s, 'heartbeat_rtt', 'p99_ms'))}"
            f" | {pct(_get(s, 'central', 'cpu_percent'))} / {_get(s, 'central', 'rss_mib') or '-'}"
            f" MiB | {pct(_get(s, 'broker', 'cpu_percent'))}"
            f" | {pct(_get(s, 'generator', 'cpu_percent'))} / "
            f"{ms(_get(s, 'generator', 'tick_lag', 'p99_ms'))} | {verdict} |")
    for skipped in load.get("skipped", []):
        lines.append(f"| {skipped['cps']:,} | not run: {skipped['why']} |" + " |" * 10)
    return lines


def storm_table(load: dict) -> list[str]:
    lines = ["| CPs | Central ready after | all registered again after | "
             "registered as | Central lists AVAILABLE |",
             "|---:|---:|---:|:---|---:|"]
    for s in storm_steps(load):
        storm = s["storm"]
        back = (f"{storm['all_registered_s']:g} s" if storm.get("all_registered_s") is not None
                else f"incomplete: {storm.get('registered')} of {storm.get('cps')}")
        kind = " (heartbeats only)" if s.get("heartbeats_only") else ""
        listed = (f"list_cps failed: {storm['list_error']}" if storm.get("list_error")
                  else f"{(storm.get('listed_by_central') or {}).get('AVAILABLE', 0):,}")
        lines.append(f"| {storm['cps']:,}{kind} | {storm.get('central_ready_s')} s | {back} | "
                     f"{storm.get('register_status')} | {listed} |")
    return lines


def hub_explanations(load: dict, cores: int | None) -> list[str]:
    """Reasons read off the figures, for each step that misses the hub goal."""
    notes = []
    for s in load.get("steps", []):
        if s.get("meets_goal"):
            continue
        n = s["cps"]
        if s.get("error"):
            notes.append(f"- N = {n:,}: the step did not complete ({s['error']}).")
            continue
        central = _get(s, "central", "cpu_percent") or 0
        generator = _get(s, "generator", "cpu_percent") or 0
        broker = _get(s, "broker", "cpu_percent") or 0
        busy = _get(s, "machine", "busy_percent_of_all_cores")
        lag = _get(s, "generator", "tick_lag", "p99_ms") or 0
        why = []
        if central >= 85:
            why.append(f"Central's one event loop was busy {central:.0f} % of a core: it cannot "
                       "take more work in one process")
        if busy is not None and busy >= 90:
            why.append(f"the machine's {cores or '?'} cores were {busy:.0f} % busy (Central "
                       f"{central:.0f} %, broker {broker:.0f} %, load generator {generator:.0f} %"
                       ", as % of one core)")
        if broker >= 50:
            why.append(f"the Kafka broker alone used {broker:.0f} % of a core (it stores and "
                       "serves both hops: every record in, and twice as many out to drivers)")
        if lag >= 200:
            why.append(f"the load generator itself fell behind (its 1 Hz ticks were up to "
                       f"{lag:.0f} ms late at p99), so the offered load was below N records/s")
        forwarded = _get(s, "telemetry", "forwarded_per_s") or 0
        offered = _get(s, "telemetry", "offered_per_s") or 0
        if offered and forwarded < 0.95 * offered:
            why.append(f"Central forwarded {forwarded:,.0f} records/s of the {offered:,.0f} "
                       "offered: a growing backlog, hence the latency")
        if not why:
            why.append("no single resource was saturated in the window; see the failures column")
        notes.append(f"- N = {n:,} ({'; '.join(s.get('failures') or [])}): " + "; ".join(why)
                     + ".")
    return notes


def heartbeat_cost(load: dict) -> list[str]:
    """What heartbeats alone cost Central, from the heartbeats-only step."""
    step = load.get("storm_step") or {}
    cpu = _get(step, "central", "cpu_percent")
    if not cpu or not step.get("cps"):
        return []
    n = step["cps"]
    return [f"- With heartbeats only (no sessions, no telemetry), {n:,} charge points cost "
            f"Central {cpu:.0f} % of a core, about {cpu * 1e4 / n:.0f} µs per heartbeat (read, "
            "decode, validate, log, answer: two system calls each). At one heartbeat a second "
            "per charge point, as this network runs, heartbeats cost Central about as much as "
            "the telemetry; the seed's 30 s interval would cost a thirtieth."]


def hub_section(load: dict, cores: int | None, plot_name: str) -> list[str]:
    lines = ["## Hub under load", ""]
    if not load.get("steps"):
        return lines + ["Not measured (the load generator did not run: "
                        f"{load.get('error', 'no steps')}).", "", "### Reconnect storm", "",
                        "Not measured.", ""]
    settings = load.get("settings") or {}
    lines += [
        f"`python -m evbench.loadgen` ({load.get('command', '')}): for each N a fresh Central "
        "in its own process (log level "
        f"`{settings.get('central_log_level', 'info')}`, as deployed), N simulated charge "
        "points over real TCP (auth with HMAC, register, heartbeat every second, the "
        "Monitor's own back-off and timers) and one driver per charge point; every "
        "charge point sends one `charging_data` a second through the real broker "
        f"for a measured window of {settings.get('window', '?')} s. Telemetry latency: from "
        "the record's creation at the charge point (`created_ms`) to the driver receiving "
        "Central's forwarded copy (two Kafka hops and Central). Request -> command: "
        f"{settings.get('probe_rate', '?')} charge requests a second for idle probe charge "
        "points during the window (under full load), and, separately, the requests that "
        f"opened the N sessions at up to {settings.get('ramp_rate', '?')}/s. Lost: sent "
        "but not received by the drivers by the end of the drain. CPU is % of one core "
        "over the window. The load generator and the broker share the machine's cores "
        "with Central.",
        "",
        *load_table(load),
        "",
        f"![telemetry latency against N]({plot_name})",
        "",
        f"Largest N meeting p99 <= 1 s with zero loss: "
        f"**{_count(load.get('largest_cps_meeting_goal'))}** "
        f"(goal {goals.GOAL_CPS:,}).",
        "",
    ]
    lines += ["### Reconnect storm", ""]
    if not storm_steps(load):
        return lines + ["Not measured.", ""]
    return lines + ["After each step: SIGKILL Central, start it again at once; every charge "
                    "point reconnects with the Monitor's full-jitter back-off (0.5 s doubling "
                    "to 30 s). Timed from the restart to the last `register_response`; then "
                    "Central's `list_cps` is checked. Where the ramp stopped short of "
                    f"{goals.GOAL_CPS:,}, a step of that many charge points with heartbeats "
                    "only (no sessions) measures the storm alone.", "", *storm_table(load),
                    ""]
