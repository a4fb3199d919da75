"""Text tables for `evcharge admin`: charge points coloured by state, sessions, the
audit trail. Every cell is stripped of control characters: ids, locations and
reasons come from CPs and drivers, and an escape sequence in one must not
drive the operator's terminal."""
from __future__ import annotations

import time

from evwire import types as t
from evwire.trace import printable

RESET = "\033[0m"
STATE_COLOURS = {
    t.CP_DISCONNECTED: "\033[90m",  # grey
    t.CP_AVAILABLE: "\033[32m",  # green
    t.CP_CHARGING: "\033[1;32m",  # bold green, with live data
    t.CP_STOPPED: "\033[38;5;208m",  # orange
    t.CP_FAULTED: "\033[31m",  # red
}


def _money(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _when(ts) -> str:
    return "-" if not ts else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def table(header: list[str], rows: list[list[str]], colours: list[str] | None = None) -> str:
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)] if rows else \
        [len(h) for h in header]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    for i, row in enumerate(rows):
        line = "  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip()
        colour = colours[i] if colours else ""
        lines.append(f"{colour}{line}{RESET}" if colour else line)
    return "\n".join(lines)


def cps_table(cps: list[dict], colour: bool) -> str:
    header = ["CP", "STATUS", "LOCATION", "PRICE", "MAX KW", "DRIVER", "KW", "KWH", "COST",
              "PROTO", "NOTE"]
    rows, colours = [], []
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
        colours.append(STATE_COLOURS.get(cp["status"], "") if colour else "")
    return table(header, rows, colours)


def sessions_table(sessions: list[dict]) -> str:
    header = ["SESSION", "CP", "DRIVER", "STATUS", "KWH", "COST", "CP COST", "REASON", "STARTED",
              "ENDED"]
    rows = [[s["session_id"], s["cp_id"], s["driver_id"], s["status"],
             f"{s['energy_consumed_kwh']:.3f}", _money(s.get("total_cost")),
             _money(s.get("cp_cost")), _session_note(s),
             _when(s.get("started_at")), _when(s.get("ended_at"))] for s in sessions]
    return table(header, rows)


def _session_note(s: dict) -> str:
    """The reason, and for a disputed session why Central did not bill it."""
    reason = s.get("reason") or "-"
    return f"{reason}: {s['dispute_reason']}" if s.get("dispute_reason") else reason


def dead_letters_table(letters: list[dict]) -> str:
    header = ["AT", "TOPIC", "PART", "OFFSET", "KEY", "BYTES", "REASON"]
    rows = [[_when(d.get("at")), d["source_topic"], str(d["source_partition"]),
             str(d["source_offset"]), d.get("key") or "-", str(d.get("size", 0)), d["reason"]]
            for d in letters]
    return table(header, rows)


def audit_table(entries: list[dict]) -> str:
    header = ["AT", "ADDRESS", "WHO", "ACTION", "RESULT", "DETAIL"]
    rows = [[_when(e.get("at")), str(e.get("address") or "-"), str(e.get("who") or "-"),
             str(e.get("action") or "-"), str(e.get("result") or "-"), str(e.get("detail") or "")]
            for e in entries]
    return table(header, rows)


def sites_table(sites: list[dict]) -> str:
    header = ["SITE", "LIMIT KW", "LIVE KW", "SHARES (KW)"]
    rows = [[s["site_id"], f"{s['max_kw']:g}", f"{s['live_kw']:.2f}",
             " ".join(f"{cp}={kw:g}" for cp, kw in s["limits"].items()) or "-"] for s in sites]
    return table(header, rows)
