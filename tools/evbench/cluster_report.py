"""bench/cluster.md from the cluster benchmark's report (tools/bench_cluster.py)."""
from __future__ import annotations


def _ms(figure: dict | None, key: str) -> str:
    value = (figure or {}).get(key)
    return "-" if value is None else f"{value:,.0f} ms"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _cpu(part: dict | None) -> str:
    value = (part or {}).get("cpu_percent")
    return "-" if value is None else f"{value:.0f} %"


def central_cpus(step: dict) -> str:
    """Each Central's CPU over the window, in % of one core: 'c1 40 % + c2 38 %'."""
    parts = [("c1", step.get("central"))]
    parts += [(f"c{i}", step.get(f"central{i}")) for i in range(2, (step.get("centrals") or 1)
                                                                 + 1)]
    return " + ".join(f"{name} {_cpu(part)}" for name, part in parts)


def step_row(step: dict) -> str:
    tele = step.get("telemetry") or {}
    latency = tele.get("latency") or {}
    spread = step.get("connected_per_central") or {}
    verdict = "met" if step.get("meets_goal") else "missed: " + "; ".join(step.get("failures")
                                                                          or [])
    lost = "-" if tele.get("lost") is None else f"{tele['lost']:,} of {tele.get('sent', 0):,}"
    machine = step.get("machine") or {}
    busy = machine.get("busy_percent_of_all_cores")
    return (f"| {step.get('centrals')} | {step.get('cps'):,} | "
            f"{'/'.join(str(v) for v in spread.values()) or '-'} | "
            f"{_ms(latency, 'p50_ms')} | {_ms(latency, 'p99_ms')} | {lost} | "
            f"{tele.get('duplicates', '-')} | {central_cpus(step)} | {_cpu(step.get('broker'))} | "
            f"{_cpu(step.get('postgres'))} | {_cpu(step.get('generator'))} | "
            f"{'-' if busy is None else f'{busy:.0f} %'} | {verdict} |")


def failover_lines(step: dict | None) -> list[str]:
    if not step:
        return ["Not measured (--no-failover)."]
    fo = step.get("failover")
    if not fo:
        return [f"Not measured: the step did not get to the kill ({step.get('error')})."]
    tele = step.get("telemetry") or {}
    tickets = step.get("tickets") or {}
    ramp = step.get("ramp") or {}
    return [
        f"{step['cps']:,} charge points spread over 2 Centrals, {fo['charging_cps']:,} of them "
        f"charging ({ramp.get('accepted', '?')} of {ramp.get('requested', '?')} sessions "
        f"started; refused: {ramp.get('refused') or 'none'}); Central {fo['killed']} "
        f"SIGKILLed with {fo['cps_on_killed']:,} CPs connected to it. The simulated Monitors "
        "keep producing their telemetry to Kafka while they have no Central (as a "
        "Monitor's outbox does) and move along their address list as the Monitor does.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| kill -> every one of its CPs registered at the other Central | "
        f"**{_s(fo.get('all_reregistered_s'))}** ({fo['reregistered']:,} of "
        f"{fo['cps_on_killed']:,}; p50 {_ms(fo.get('reregistered_s'), 'p50_ms')}) |",
        f"| kill -> telemetry of every charging CP flowing again (a record created after "
        f"the kill at its driver) | **{_s(fo.get('telemetry_back_all_s'))}** "
        f"({fo['telemetry_back_cps']:,} of {fo['charging_cps']:,} CPs) |",
        f"| of which the moved CPs: p50 / max | "
        f"{_ms(fo.get('telemetry_back_moved_s'), 'p50_ms')} / "
        f"{_ms(fo.get('telemetry_back_moved_s'), 'max_ms')} |",
        f"| of which the CPs on the surviving Central: p50 / max | "
        f"{_ms(fo.get('telemetry_back_others_s'), 'p50_ms')} / "
        f"{_ms(fo.get('telemetry_back_others_s'), 'max_ms')} |",
        f"| latency of the records created after the kill: p50 / p99 / max | "
        f"{_ms(fo.get('latency_after_kill'), 'p50_ms')} / "
        f"{_ms(fo.get('latency_after_kill'), 'p99_ms')} / "
        f"{_ms(fo.get('latency_after_kill'), 'max_ms')} |",
        f"| Central c1's list after the move | {fo.get('listed_by_c1')} |",
        f"| records lost over the whole step (drained) | {tele.get('lost', '-')} of "
        f"{tele.get('sent', '-')} (duplicates {tele.get('duplicates', '-')}) |",
        f"| tickets | {tickets.get('received', '-')} of {tickets.get('expected', '-')} |",
    ]


def profile_lines(profile: dict | None, rows: int = 12) -> list[str]:
    if not profile:
        return []
    lines = ["", f"## Where one Central's time goes ({profile['cps']:,} CPs, pyinstrument)", ""]
    if profile.get("error"):
        return lines + [f"Not measured: {profile['error']}."]
    lines += [f"Event loop busy {profile['busy_s']} s of {profile['profiled_s']} s profiled "
              "(wall clock of the main thread: a blocking database call counts as busy).", "",
              "| function | where | self s | % of busy |", "|---|---|---|---|"]
    lines += [f"| `{row['function']}` | {row['where']} | {row['self_s']} | "
              f"{row['self_pct_busy']} |" for row in profile["top"][:rows]]
    lines += ["", "| Central's function (total, callees included) | where | total s |",
              "|---|---|---|"]
    lines += [f"| `{row['function']}` | {row['where']} | {row['total_s']} |"
              for row in profile["top_total"][:rows]]
    return lines


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def latency_only(steps: list[dict]) -> dict[str, int]:
    """Per Central count, the largest N whose telemetry alone met the goal (p99, 0 lost),
    whatever else failed (sessions refused)."""
    best: dict[str, int] = {}
    for step in steps:
        tele = step.get("telemetry") or {}
        p99 = (tele.get("latency") or {}).get("p99_ms")
        if p99 is not None and p99 <= 1000 and tele.get("lost") == 0 and not step.get("error"):
            key = str(step["centrals"])
            best[key] = max(best.get(key, 0), step["cps"])
    return best


def markdown(report: dict) -> str:
    machine = report.get("machine") or {}
    best = report.get("largest_cps_meeting_goal") or {}
    mode = ("cluster mode: each Central started with `--central-id cN`"
            if report.get("cluster_mode") else
            "no cluster mode yet (this Central has no `--central-id`): every Central "
            "reads every cp-events partition, so each record is handled by every Central")
    lines = [
        "# Cluster benchmark: CPs at 1 Hz with 1, 2 and 3 Centrals, and failover",
        "",
        f"`{report.get('command', '')}`",
        "",
        f"{machine.get('date_utc', '?')}, commit {machine.get('commit', '?')}: "
        f"{machine.get('cores', '?')} cores ({machine.get('cpu', '?')}), "
        f"{machine.get('memory_gib', '?')} GiB, Python {machine.get('python', '?')}, "
        f"{machine.get('postgresql', 'PostgreSQL ?')}, Kafka: "
        f"{machine.get('kafka_broker', '?')}, load average at start "
        f"{machine.get('load_average_at_start', '?')}. {mode}.",
        "",
        "**Every Central, PostgreSQL, the Kafka broker and the load generator share this "
        "machine's cores**: the curve shows how K Centrals share the same two cores, not "
        "how K hosts would scale.",
        "",
    ]
    if report.get("error"):
        lines += [f"**The run broke:** {report['error']}", ""]
    telemetry_only = latency_only(report.get("steps") or [])
    lines += ["## CPs carried at 1 Hz (telemetry p99 <= 1 s, nothing lost)", "",
              "| Centrals | largest N meeting the goal (every session started too) | "
              "largest N with telemetry p99 <= 1 s and nothing lost alone |", "|---|---|---|"]
    lines += [f"| {k} | {'none of the levels tried' if n is None else f'**{n:,}**'} | "
              f"{_n(telemetry_only.get(k))} |" for k, n in best.items()]
    settle = (report.get("settings") or {}).get("connect_settle") or 0
    when = (f"{settle:g} s after every CP registered (--connect-settle)" if settle else
            "right after every CP registered, as `make bench` does")
    lines += ["", "Each step: a fresh database and topic namespace, the Centrals, N CPs "
              "spread over them (CPs per Central below), one charging session each (the "
              f"drivers ask {when}), a measured window, then a drain that counts losses. "
              "CPU in % of one core over the window (200 % = both cores).", "",
              "| Centrals | CPs | per Central | p50 | p99 | lost | duplicates | Centrals' CPU |"
              " broker | PostgreSQL | generator | machine busy | verdict |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [step_row(step) for step in report.get("steps") or []]
    for skip in report.get("skipped") or []:
        lines.append(f"\nNot run: {skip['centrals']} Centrals x {skip['cps']:,} CPs "
                     f"({skip['why']}).")
    lines += ["", "## Failover (kill -9 of one of 2 Centrals)", ""]
    lines += failover_lines(report.get("failover_step"))
    lines += profile_lines(report.get("profile"))
    lines += ["", f"Run time {report.get('duration_s', '?')} s.", ""]
    return "\n".join(lines)


def summary_lines(report: dict) -> list[str]:
    out = [f"{k} Central(s): {'-' if n is None else f'{n:,}'} CPs at 1 Hz with p99 <= 1 s"
           for k, n in (report.get("largest_cps_meeting_goal") or {}).items()]
    fo = (report.get("failover_step") or {}).get("failover")
    if fo:
        out.append(f"failover: {fo['cps_on_killed']} CPs registered at the other Central in "
                   f"{_s(fo.get('all_reregistered_s'))}; telemetry of every charging CP back "
                   f"in {_s(fo.get('telemetry_back_all_s'))}")
    if report.get("error"):
        out.append(f"error: {report['error']}")
    return out
