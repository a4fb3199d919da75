"""How the driver shows things: text for people (a live line on a terminal,
plain lines otherwise) or one JSON object per line for scripts.

Only ASCII is written in text mode, so any terminal encoding shows it. Text
from Central (CP ids, locations, reasons, messages) is stripped of control
characters before it reaches the terminal: an escape sequence planted in a
location must not drive the driver's terminal.
"""
from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from evdriver.model import Progress, ServiceResult, Ticket, describe_reason
from evwire.trace import printable

CURRENCY = "EUR"
BAR_WIDTH = 20


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def progress_bar(percent: int | None) -> str:
    if percent is None:  # no charging_status_update yet
        return "[" + " " * BAR_WIDTH + "]    -"
    filled = max(0, min(BAR_WIDTH, percent * BAR_WIDTH // 100))
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + f"] {percent:3d}%"


class TextOutput:
    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr):
        self.out = out
        self.err = err
        self.live = out.isatty()
        self._line_open = False

    def _print(self, text: str) -> None:
        self._end_live_line()
        print(_clean(text), file=self.out, flush=True)

    def _end_live_line(self) -> None:
        if self._line_open:
            self.out.write("\n")
            self._line_open = False

    def notice(self, text: str) -> None:
        self._print(text)

    def break_line(self) -> None:
        """End the live line, so that a question starts on a line of its own."""
        self._end_live_line()

    def status(self, event: str, cp_id: str, session_id: str, text: str) -> None:
        self._print(f"{cp_id}: {text}")

    def progress(self, p: Progress) -> None:
        figures = (f"{p.energy_kwh:8.3f} kWh  {p.rate_kw:6.2f} kW  {p.cost:8.2f} {CURRENCY}"
                   f"  {clock(p.elapsed_s)}")
        if p.limit_kw is not None:  # the site's limit: 0 = waiting for power
            figures += "  limit " + (f"{p.limit_kw:g} kW" if p.limit_kw > 0 else "0 (queued)")
        if self.live:
            self.out.write(f"\r{printable(p.cp_id)} {progress_bar(p.progress)} {figures}\x1b[K")
            self.out.flush()
            self._line_open = True
        else:
            pct = "-" if p.progress is None else f"{p.progress}%"
            self._print(f"{time.strftime('%H:%M:%S')} {p.cp_id} {figures}  {pct}")

    def ticket(self, tk: Ticket, away: bool = False) -> None:
        price = f" ({tk.price_per_kwh:.2f} {CURRENCY}/kWh)" if tk.price_per_kwh else ""
        title = "ticket (while you were away)" if away else "ticket"
        rows = [
            f"---- {title} " + "-" * max(4, 44 - len(title)),
            f"  session       {tk.session_id}",
            f"  charge point  {tk.cp_id}",
            f"  energy        {tk.energy_kwh:.3f} kWh",
            f"  cost          {tk.cost:.2f} {CURRENCY}{price}",
            f"  duration      {clock(tk.duration_s)}",
            f"  reason        {describe_reason(tk.reason)}",
            "-" * 50,
        ]
        self._print("\n".join(rows))

    def charge_points(self, cps: list[dict]) -> None:
        if not cps:
            self._print("no charge points")
            return
        rows = [[str(cp.get("cp_id", "?")), str(cp.get("location") or "-"),
                 str(cp.get("status", "?")), _money(cp.get("price_per_kwh")),
                 _number(cp.get("max_charging_rate_kw"), 1)] for cp in cps]
        self._print(table(["ID", "LOCATION", "STATUS", f"{CURRENCY}/kWh", "MAX kW"], rows,
                          right={3, 4}))

    def history(self, sessions: list[dict]) -> None:
        if not sessions:
            self._print("no sessions yet")
            return
        rows = [[str(s.get("session_id", "?"))[:8], str(s.get("cp_id", "?")),
                 _when(s.get("started_at")), str(s.get("status", "?")),
                 _number(s.get("energy_consumed_kwh"), 3), _money(s.get("total_cost")),
                 describe_reason(s.get("reason")) if s.get("reason") else "-"]
                for s in sessions]
        energy = sum(float(s.get("energy_consumed_kwh") or 0) for s in sessions)
        cost = sum(float(s.get("total_cost") or 0) for s in sessions)
        self._print(table(["SESSION", "CP", "STARTED", "STATUS", "kWh", CURRENCY, "REASON"],
                          rows, right={4, 5}))
        self._print(f"{len(sessions)} sessions, {energy:.3f} kWh, {cost:.2f} {CURRENCY}")

    def service_start(self, number: int, total: int, cp_id: str) -> None:
        self._print(f"== service {number}/{total}: {cp_id}")

    def summary(self, results: list[ServiceResult]) -> None:
        rows = []
        for i, r in enumerate(results, 1):
            tk = r.ticket
            outcome = "ok" if r.ok else ("skipped" if r.interrupted else "failed")
            rows.append([str(i), r.cp_id, outcome,
                         f"{tk.energy_kwh:.3f}" if tk else "-", f"{tk.cost:.2f}" if tk else "-",
                         clock(tk.duration_s) if tk else "-",
                         describe_reason(tk.reason) if tk else (r.refusal or "-")])
        self._print("summary:\n" + table(["#", "CP", "RESULT", "kWh", CURRENCY, "DURATION",
                                          "REASON"], rows, right={3, 4}))
        energy = sum(r.ticket.energy_kwh for r in results if r.ticket)
        cost = sum(r.ticket.cost for r in results if r.ticket)
        done = sum(1 for r in results if r.ok)
        self._print(f"{done} of {len(results)} services done, {energy:.3f} kWh, "
                    f"{cost:.2f} {CURRENCY}")

    def result(self, body: dict) -> None:
        """Text mode already showed everything the result holds."""

    def error(self, text: str, exit_code: int) -> None:
        self._end_live_line()
        print(f"evcharge driver: {_clean(text)}", file=self.err, flush=True)


class JsonOutput:
    """One JSON object per line: {"event": ...} as things happen, {"result": ...} at the end."""

    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr):
        self.out = out
        self.err = err

    def _emit(self, obj: dict) -> None:
        print(json.dumps(obj, sort_keys=True), file=self.out, flush=True)

    def notice(self, text: str) -> None:
        self._emit({"event": "notice", "text": text})

    def break_line(self) -> None:
        """JSON lines are always whole."""

    def status(self, event: str, cp_id: str, session_id: str, text: str) -> None:
        self._emit({"event": event, "cp_id": cp_id, "session_id": session_id, "text": text})

    def progress(self, p: Progress) -> None:
        self._emit({"event": "progress", **p.__dict__})

    def ticket(self, tk: Ticket, away: bool = False) -> None:
        self._emit({"event": "ticket", "while_away": away, **tk.as_dict()})

    def charge_points(self, cps: list[dict]) -> None:
        self.result({"result": "ok", "charging_points": cps})

    def history(self, sessions: list[dict]) -> None:
        self.result({"result": "ok", "sessions": sessions})

    def service_start(self, number: int, total: int, cp_id: str) -> None:
        self._emit({"event": "service", "number": number, "total": total, "cp_id": cp_id})

    def summary(self, results: list[ServiceResult]) -> None:
        self._emit({"event": "summary", "services": [r.as_dict() for r in results]})

    def result(self, body: dict) -> None:
        self._emit(body)

    def error(self, text: str, exit_code: int) -> None:
        self._emit({"result": "error", "exit_code": exit_code, "message": text})
        print(f"evcharge driver: {_clean(text)}", file=self.err, flush=True)


def _clean(text: str) -> str:
    """text without control characters, its line breaks kept."""
    return "\n".join(printable(line) for line in str(text).split("\n"))


def _money(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"


def _number(value: object, decimals: int) -> str:
    return f"{value:.{decimals}f}" if isinstance(value, (int, float)) else "-"


def _when(ts: object) -> str:
    if not isinstance(ts, (int, float)):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
