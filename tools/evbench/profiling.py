"""Top functions of a pyinstrument profile (Central's main thread, wall clock).

pyinstrument samples the main thread's stack every millisecond; its pstats
output gives each function's self time (time in the function itself, not in
what it called) and total time. Time in the event loop's `select` is Central
waiting for work: idle, not cost.
"""
from __future__ import annotations

import pstats
from pathlib import Path

from evharness.procs import ROOT

# How pstats names the selector calls the event loop waits in (per platform).
IDLE_FUNCTIONS = frozenset({"epoll.poll", "poll.poll", "devpoll.poll", "kqueue.control",
                            "select", "select.select"})
PROJECT_DIRS = ("hub/", "shared/", "firmware/")
ENTRY_POINTS = frozenset({"<module>", "main", "run"})


def _where(path: str) -> str:
    """A short readable location: repo-relative, or the last folders of a library path."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        parts = Path(path).parts
        return "/".join(parts[-2:]) if len(parts) >= 2 else path


def top_functions(pstats_path: Path, count: int = 12) -> dict:
    """{profiled_s, idle_s, busy_s, top: [...], top_total: [...]}.

    top: every function by self time; top_total: the project's own functions
    by total time (callees included).

    Percentages are of the busy time (profiled time minus idle select), so
    they say where Central's work goes.
    """
    stats = pstats.Stats(str(pstats_path))
    rows = []
    for (path, line, name), (_cc, _nc, self_s, total_s, _callers) in stats.stats.items():
        rows.append((name, f"{_where(path)}:{line}", self_s, total_s))
    profiled = sum(r[2] for r in rows)
    idle = sum(r[2] for r in rows if r[0] in IDLE_FUNCTIONS)
    busy = max(1e-9, profiled - idle)
    top = sorted((r for r in rows if r[0] not in IDLE_FUNCTIONS), key=lambda r: r[2],
                 reverse=True)[:count]
    # Total time (callees included) of the project's own functions: where the work
    # starts (a handler, the Kafka batch, the read loop), below the entry points.
    own = sorted((r for r in rows if r[1].startswith(PROJECT_DIRS) and r[0] not in ENTRY_POINTS),
                 key=lambda r: r[3], reverse=True)[:count]
    return {
        "profiled_s": round(profiled, 2),
        "idle_s": round(idle, 2),
        "busy_s": round(busy, 2),
        "top": [{"function": name, "where": where, "self_s": round(self_s, 3),
                 "self_pct_busy": round(100 * self_s / busy, 1), "total_s": round(total_s, 3)}
                for name, where, self_s, total_s in top],
        "top_total": [{"function": name, "where": where, "total_s": round(total_s, 3),
                       "total_pct_busy": round(100 * total_s / busy, 1)}
                      for name, where, _self_s, total_s in own],
    }
