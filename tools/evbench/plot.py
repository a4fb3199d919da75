"""The report's figure: telemetry latency (p50, p99) and request -> command p99 against N."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt  # noqa: E402

from evbench import goals  # noqa: E402
from evbench.headline import completed_steps  # noqa: E402


def _series(steps: list[dict], *path: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for step in steps:
        node = step
        for key in path:
            node = (node or {}).get(key)
        if node is not None:
            xs.append(step["cps"])
            ys.append(node)
    return xs, ys


def plot_latency(load: dict, machine: dict, out: Path, before: dict | None = None) -> Path:
    """before: the recorded baseline (its ramp_steps), drawn grey for comparison."""
    steps = sorted(completed_steps(load), key=lambda s: s["cps"])
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    old = sorted((before or {}).get("ramp_steps", []), key=lambda s: s["cps"])
    xs, ys = _series(old, "telemetry", "latency", "p99_ms")
    if xs:
        ax.plot(xs, ys, "x:", color="grey",
                label=f"telemetry p99 before the optimisations ({before.get('recorded', '')})")
    for path, label, style in (
            (("telemetry", "latency", "p50_ms"), "telemetry p50 (CP -> Central -> driver)", "o-"),
            (("telemetry", "latency", "p99_ms"), "telemetry p99", "s-"),
            (("probes", "request_to_command", "p99_ms"), "charge_request -> start command p99",
             "^--")):
        xs, ys = _series(steps, *path)
        if xs:
            ax.plot(xs, ys, style, label=label)
    ax.axhline(goals.GOAL_TELEMETRY_P99_MS, color="tab:red", linestyle=":", linewidth=1,
               label="goal: telemetry p99 1 s")
    ax.axhline(goals.GOAL_REQUEST_P99_MS, color="tab:green", linestyle=":", linewidth=1,
               label="goal: request -> command p99 50 ms")
    ax.axvline(goals.GOAL_CPS, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("charge points, each sending 1 record/s")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"evcharge hub on {machine.get('cores', '?')} cores "
                 f"({machine.get('date_utc', '')[:10]}), load generator on the same machine",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    if not steps:
        ax.text(0.5, 0.5, "no load step completed", transform=ax.transAxes, ha="center")
        ax.set_xlim(10, 20000)
        ax.set_ylim(1, 10000)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
