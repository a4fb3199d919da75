"""The soak benchmark's arithmetic and report (evbench.soak): pure functions, no I/O.

Per-interval latency: a forwarded charging_data record belongs to the interval
in which it was created (its created_ms), as in evbench.figures; its latency is
arrival at the driver - created_ms. RSS growth compares the last sample with a
warm-up sample; p99 is "steady" when the last third's worst interval p99 is at
most twice the first third's median one.
"""
from __future__ import annotations

import math
import statistics
from array import array
from collections.abc import Iterable

from evbench.metrics import summarise_ms

WARMUP_S = 300.0  # the reference RSS: the first sample at or after 5 minutes...
SHORT_RUN_S = 600.0  # ...unless the run is shorter than 10 minutes: then the first sample
RSS_GROWTH_LIMIT = 5.0  # percent
STEADY_FACTOR = 2.0
VERDICT_PROCS = ("central", "broker")  # judged; the generator's RSS is only reported


class IntervalLatencies:
    """Latencies (seconds) bucketed by the interval of their record's creation."""

    def __init__(self, start_ms: float, sample_s: float, window_s: float):
        self.start_ms = start_ms
        self.sample_ms = sample_s * 1000
        self.end_ms = start_ms + window_s * 1000
        # Arrays of doubles: an hour at 1,000 CPs is 3.6 million latencies.
        self.buckets = [array("d") for _ in range(math.ceil(window_s / sample_s))]

    def index(self, created_ms: float) -> int | None:
        if not self.start_ms <= created_ms < self.end_ms:
            return None  # before the window (settle) or after it (drain)
        return min(int((created_ms - self.start_ms) // self.sample_ms), len(self.buckets) - 1)

    def add(self, records: Iterable[tuple[float, float]]) -> None:
        """(created_ms, arrived_ms) pairs."""
        for created, arrived in records:
            k = self.index(created)
            if k is not None:
                self.buckets[k].append((arrived - created) / 1000)

    def summary(self, k: int) -> dict:
        return summarise_ms(self.buckets[k].tolist())


def growth_percent(warm: float | None, last: float | None) -> float | None:
    if warm is None or last is None or warm <= 0:
        return None
    return round((last - warm) / warm * 100, 2)


def warm_index(times_s: list[float], window_s: float) -> int | None:
    """The warm-up sample among samples taken at times_s (seconds into the window)."""
    if not times_s:
        return None
    if window_s < SHORT_RUN_S:
        return 0
    return next((i for i, t in enumerate(times_s) if t >= WARMUP_S), 0)


def rss_growth(samples: list[dict], window_s: float) -> dict:
    """Per process: warm-up and last RSS (MiB) and the growth between them."""
    warm = warm_index([s["t_s"] for s in samples], window_s)
    out = {}
    for proc in ("central", "broker", "generator"):
        if warm is None:
            out[proc] = {"warm_mib": None, "last_mib": None, "growth_percent": None}
            continue
        first = samples[warm][proc]["rss_mib"]
        last = samples[-1][proc]["rss_mib"]
        out[proc] = {"warm_t_s": samples[warm]["t_s"], "warm_mib": first,
                     "last_t_s": samples[-1]["t_s"], "last_mib": last,
                     "growth_mib": round(last - first, 1) if None not in (first, last) else None,
                     "growth_percent": growth_percent(first, last)}
    return out


def steadiness(p99s: list[float | None]) -> dict:
    """First third's median p99 vs the last third's max; steady None below 3 samples."""
    values = [p for p in p99s if p is not None]
    if len(values) < 3:
        return {"steady": None, "samples": len(values), "first_third_median_ms": None,
                "last_third_max_ms": None}
    third = len(values) // 3
    median = statistics.median(values[:third])
    worst = max(values[-third:])
    return {"steady": worst <= STEADY_FACTOR * median, "samples": len(values),
            "first_third_median_ms": round(median, 1), "last_third_max_ms": round(worst, 1),
            "limit_ms": round(STEADY_FACTOR * median, 1)}


def verdicts(growth: dict, losses: list[str], steady: dict, delivered: str = "") -> list[dict]:
    out = []
    for proc in VERDICT_PROCS:
        g = growth.get(proc) or {}
        pct = g.get("growth_percent")
        out.append({"name": f"{proc} RSS growth < {RSS_GROWTH_LIMIT:g} %",
                    "ok": None if pct is None else pct < RSS_GROWTH_LIMIT,
                    "detail": "not measured" if pct is None else
                    f"{g['warm_mib']} -> {g['last_mib']} MiB ({pct:+.2f} %)"})
    out.append({"name": "0 lost", "ok": not losses,
                "detail": "; ".join(losses) or delivered
                or "every record and ticket reached the drivers"})
    out.append({"name": "p99 steady", "ok": steady["steady"],
                "detail": "fewer than 3 intervals with records" if steady["steady"] is None
                else f"last third max {steady['last_third_max_ms']} ms vs first third median "
                     f"{steady['first_third_median_ms']} ms (limit {steady['limit_ms']} ms)"})
    return out


def _mark(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[ok]


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _num(value: float | int | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def sample_line(s: dict) -> str:
    """One line per sample, printed while the soak runs."""
    lat = s["latency"]
    return (f"[{_clock(s['t_s'])}] sent {s['sent']} recv {s['received']} | "
            f"p50 {_num(lat['p50_ms'])} p99 {_num(lat['p99_ms'])} ms | "
            f"central {_num(s['central']['rss_mib'])} MiB {_num(s['central']['cpu_percent'])} % | "
            f"broker {_num(s['broker']['rss_mib'])} MiB {_num(s['broker']['cpu_percent'])} % | "
            f"gen {_num(s['generator']['rss_mib'])} MiB {_num(s['generator']['cpu_percent'])} %")


def table_rows(samples: list[dict], every_s: float, warm: int | None) -> list[dict]:
    """The samples every `every_s` seconds, plus the first, the warm-up and the last."""
    keep = {0, len(samples) - 1} | ({warm} if warm is not None else set())
    mark = every_s
    for i, s in enumerate(samples):
        if s["t_s"] >= mark - 1e-6:
            keep.add(i)
            while mark <= s["t_s"] + 1e-6:
                mark += every_s
    return [samples[i] for i in sorted(keep) if 0 <= i < len(samples)]


def markdown(report: dict, every_s: float) -> str:
    settings = report["settings"]
    samples = report["samples"]
    step = report.get("step") or {}
    tele = step.get("telemetry") or {}
    lines = [f"## Soak: {settings['cps']} CPs at 1 Hz for {settings['minutes']:g} min "
             "against one Central", "",
             f"`{report['command']}` on {report['machine'].get('cores')} cores "
             f"({report['machine'].get('date_utc')}, commit {report['machine'].get('commit')}); "
             f"samples every {settings['sample_s']:g} s, shown every "
             + (f"{every_s:g} s." if every_s < 60 else f"{every_s / 60:g} min."), ""]
    if report.get("error"):
        lines += [f"**The run broke:** {report['error']}", ""]
    lines += ["| t | sent | received | p50 ms | p99 ms | Central MiB | Central CPU % "
              "| broker MiB | broker CPU % | generator MiB |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for s in table_rows(samples, every_s, report.get("warm_index")):
        lat = s["latency"]
        lines.append(f"| {_clock(s['t_s'])} | {s['sent']} | {s['received']} | "
                     f"{_num(lat['p50_ms'])} | {_num(lat['p99_ms'])} | "
                     f"{_num(s['central']['rss_mib'])} | {_num(s['central']['cpu_percent'])} | "
                     f"{_num(s['broker']['rss_mib'])} | {_num(s['broker']['cpu_percent'])} | "
                     f"{_num(s['generator']['rss_mib'])} |")
    lines += ["", f"Telemetry: {_num(tele.get('sent'))} sent, {_num(tele.get('received'))} "
                  f"received, {_num(tele.get('lost'))} lost, {_num(tele.get('duplicates'))} "
                  f"duplicates; tickets {(step.get('tickets') or {}).get('received', '-')} of "
                  f"{(step.get('tickets') or {}).get('expected', '-')}; whole-window latency "
                  f"p50 {_num((tele.get('latency') or {}).get('p50_ms'))} ms, "
                  f"p99 {_num((tele.get('latency') or {}).get('p99_ms'))} ms.", ""]
    lines += ["| verdict | result | figures |", "|---|---|---|"]
    lines += [f"| {v['name']} | {_mark(v['ok'])} | {v['detail']} |" for v in report["verdicts"]]
    gen = report["rss_growth"].get("generator") or {}
    lines += ["", f"Generator RSS (not judged: it keeps every sent and received id): "
                  f"{_num(gen.get('warm_mib'))} -> {_num(gen.get('last_mib'))} MiB "
                  f"({_num(gen.get('growth_percent'), ' %')}).", ""]
    return "\n".join(lines)
