"""Tables for `evcharge admin`: charge points coloured by state, sessions, sites, dead
letters, the audit trail.

One View (header, rows, a style per row) per answer, drawn two ways: `plain()` for a
pipe or a file (aligned columns, no escape sequences: scripts and tests read it, so
its format is fixed), `rich_table()` for a terminal (drawn by rich, coloured by state).
Every cell is stripped of control characters first: ids, locations and reasons come
from CPs and drivers, and an escape sequence in one must not drive the operator's
terminal; cells go to rich as Text, so a `[bold]` in a location is not markup either.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich import box
from rich.table import Table
from rich.text import Text

from evwire import types as t
from evwire.trace import printable

# rich styles by CP state (the docs promise these colours)
STATE_STYLES = {
    t.CP_DISCONNECTED: "bright_black",  # grey
    t.CP_AVAILABLE: "green",
    t.CP_CHARGING: "bold green",  # with live data
    t.CP_STOPPED: "dark_orange",
    t.CP_FAULTED: "red",
}


@dataclass
class View:
    header: list[str]
    rows: list[list[str]]
    styles: list[str] = field(default_factory=list)  # one per row ("" = none), or empty

    def __post_init__(self) -> None:
        self.rows = [[printable(cell) for cell in row] for row in self.rows]


def plain(view: View) -> str:
    """Aligned columns separated by two spaces, trailing blanks cut: the format for pipes."""
    widths = [max(len(x) for x in col) for col in zip(view.header, *view.rows)]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip()
                     for row in [view.header, *view.rows])


def rich_table(view: View, title: str | None = None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False)
    for name in view.header:
        table.add_column(name, no_wrap=name in ("CP", "STATUS", "SESSION"))
    for i, row in enumerate(view.rows):
        table.add_row(*(Text(cell) for cell in row),
                      style=view.styles[i] if i < len(view.styles) else None)
    return table


def _money(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _when(ts) -> str:
    return "-" if not ts else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def cps_view(cps: list[dict]) -> View:
    header = ["CP", "STATUS", "LOCATION", "PRICE", "MAX KW", "DRIVER", "KW", "KWH", "COST",
              "PROTO", "NOTE"]
    rows, styles = [], []
    for cp in cps:
        session = cp.get("session") or {}
        note = cp.get("stop_reason") or cp.get("fault_type") or ""
        if session.get("status") == "interrupted":
            note = (note + " " if note else "") + "session interrupted"
        if session.get("waiting_for_vehicle"):
            note = (note + " " if note else "") + "waiting for vehicle"
        rows.append([
            cp["cp_id"], cp["status"], cp.get("location") or "-",
            _money(cp.get("price_per_kwh")), f"{cp.get('max_charging_rate_kw', 0):g}",
            session.get("driver_id", "-"),
            f"{session['charging_rate']:.2f}" if session else "-",
            f"{session['energy_consumed_kwh']:.3f}" if session else "-",
            _money(session.get("total_cost")) if session else "-",
            cp.get("protocol") or "-", note,
        ])
        styles.append(STATE_STYLES.get(cp["status"], ""))
    return View(header, rows, styles)


def sessions_view(sessions: list[dict]) -> View:
    header = ["SESSION", "CP", "DRIVER", "STATUS", "KWH", "COST", "CP COST", "REASON", "STARTED",
              "ENDED"]
    return View(header, [[s["session_id"], s["cp_id"], s["driver_id"], s["status"],
                          f"{s['energy_consumed_kwh']:.3f}", _money(s.get("total_cost")),
                          _money(s.get("cp_cost")), _session_note(s),
                          _when(s.get("started_at")), _when(s.get("ended_at"))]
                         for s in sessions])


def _session_note(s: dict) -> str:
    """The reason, and for a disputed session why Central did not bill it."""
    reason = s.get("reason") or "-"
    return f"{reason}: {s['dispute_reason']}" if s.get("dispute_reason") else reason


def dead_letters_view(letters: list[dict]) -> View:
    header = ["AT", "TOPIC", "PART", "OFFSET", "KEY", "BYTES", "REASON"]
    return View(header, [[_when(d.get("at")), d["source_topic"], str(d["source_partition"]),
                          str(d["source_offset"]), d.get("key") or "-", str(d.get("size", 0)),
                          d["reason"]] for d in letters])


def audit_view(entries: list[dict]) -> View:
    header = ["AT", "ADDRESS", "WHO", "ACTION", "RESULT", "DETAIL"]
    return View(header, [[_when(e.get("at")), str(e.get("address") or "-"),
                          str(e.get("who") or "-"), str(e.get("action") or "-"),
                          str(e.get("result") or "-"), str(e.get("detail") or "")]
                         for e in entries])


def sites_view(sites: list[dict]) -> View:
    header = ["SITE", "LIMIT KW", "LIVE KW", "SHARES (KW)"]
    return View(header, [[s["site_id"], f"{s['max_kw']:g}", f"{s['live_kw']:.2f}",
                          " ".join(f"{cp}={kw:g}" for cp, kw in s["limits"].items()) or "-"]
                         for s in sites])


# `evcharge admin` subcommand -> the view of its answer's data (a list)
VIEWS: dict[str, Callable[[list[dict]], View]] = {
    "list": cps_view, "sessions": sessions_view, "sites": sites_view,
    "dead-letters": dead_letters_view, "audit": audit_view,
}


def view_of(action: str, reply: dict) -> View | None:
    """The table for a subcommand's answer; None when it is a one-line message."""
    data = reply.get("data")
    make = VIEWS.get(action)
    return make(data) if make is not None and isinstance(data, list) else None
