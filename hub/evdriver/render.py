"""How the driver shows things: text for people or one JSON object per line
for scripts.

Text on a terminal is drawn with rich: the live view (a progress bar towards
the driver's own target, energy, power, cost, charging time) updating in
place, and tables. When standard output is not a terminal (a pipe, a log
file) rich is not used: every sample is a plain line and tables are plain
text, so what scripts and logs read stays stable (rich's Console with
force_terminal=None decides which, from isatty and the usual variables).

Text from Central (CP ids, locations, reasons, messages) is stripped of control
characters before it is shown, and rich's markup is off: an escape sequence or
a "[bold]" planted in a location must not drive the driver's terminal.
"""
from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from rich import box
from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

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
    """The plain-text table (not a terminal): aligned columns, a dashed rule."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def figures(p: Progress) -> str:
    """Energy, power, cost, charging time and the site's limit: every view shows these."""
    text = (f"{p.energy_kwh:8.3f} kWh  {p.rate_kw:6.2f} kW  {p.cost:8.2f} {CURRENCY}"
            f"  {clock(p.elapsed_s)}")
    if p.limit_kw is not None:  # the site's limit: 0 = waiting for power
        text += "  limit " + (f"{p.limit_kw:g} kW" if p.limit_kw > 0 else "0 (queued)")
    return text


def live_view(p: Progress) -> Table:
    """One line: CP, the bar and % towards the driver's target (none without one), figures."""
    line = Table.grid(padding=(0, 1))
    line.add_row(*_live_cells(p))
    return line


def _live_cells(p: Progress) -> list[Text | ProgressBar]:
    cells: list[Text | ProgressBar] = [Text(printable(p.cp_id))]
    if p.progress is not None:
        cells += [ProgressBar(total=100, completed=p.progress, width=BAR_WIDTH),
                  Text(f"{p.progress:3d}%")]
    cells.append(Text(figures(p)))
    return cells


class TextOutput:
    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr):
        self.out = out
        self.err = err
        # markup, highlighting and emoji off: text is shown as it is (after clean).
        self.console = Console(file=out, force_terminal=None, markup=False, highlight=False,
                               emoji=False)
        self.live = self.console.is_terminal
        self._view: Live | None = None

    def _print(self, text: str) -> None:
        self._end_live_line()
        print(clean(text), file=self.out, flush=True)

    def _show_table(self, headers: list[str], rows: list[list[str]], right: set[int]) -> None:
        rows = [[clean(c) for c in row] for row in rows]
        if not self.live:
            self._print(table(headers, rows, right))
            return
        self._end_live_line()
        drawn = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for i, header in enumerate(headers):
            drawn.add_column(header, justify="right" if i in right else "left")
        for row in rows:
            drawn.add_row(*(Text(c) for c in row))
        self.console.print(drawn)

    def _end_live_line(self) -> None:
        """Leave the live view where it is (its last state stays on screen)."""
        if self._view is not None:
            self._view.stop()
            self._view = None

    def notice(self, text: str) -> None:
        self._print(text)

    def break_line(self) -> None:
        """End the live view, so that a question starts on a line of its own."""
        self._end_live_line()

    def status(self, event: str, cp_id: str, session_id: str, text: str) -> None:
        self._print(f"{cp_id}: {text}")

    def progress(self, p: Progress) -> None:
        if not self.live:
            pct = "" if p.progress is None else f"  {p.progress}%"
            self._print(f"{time.strftime('%H:%M:%S')} {p.cp_id} {figures(p)}{pct}")
            return
        if self._view is None:
            self._view = Live(live_view(p), console=self.console, auto_refresh=False,
                              redirect_stdout=False, redirect_stderr=False)
            self._view.start()
        self._view.update(live_view(p), refresh=True)

    def ticket(self, tk: Ticket, away: bool = False) -> None:
        price = f" ({tk.price_per_kwh:.2f} {CURRENCY}/kWh)" if tk.price_per_kwh else ""
        title = "ticket (while you were away)" if away else "ticket"
        if tk.corrects_earlier:  # the charge point charged after its start was given up
            title = "corrected " + title + ": replaces the failed start"
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
        self._show_table(["ID", "LOCATION", "STATUS", f"{CURRENCY}/kWh", "MAX kW"], rows,
                         right={3, 4})

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
        self._show_table(["SESSION", "CP", "STARTED", "STATUS", "kWh", CURRENCY, "REASON"],
                         rows, right={4, 5})
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
        self._print("summary:")
        self._show_table(["#", "CP", "RESULT", "kWh", CURRENCY, "DURATION", "REASON"], rows,
                         right={3, 4})
        energy = sum(r.ticket.energy_kwh for r in results if r.ticket)
        cost = sum(r.ticket.cost for r in results if r.ticket)
        done = sum(1 for r in results if r.ok)
        self._print(f"{done} of {len(results)} services done, {energy:.3f} kWh, "
                    f"{cost:.2f} {CURRENCY}")

    def result(self, body: dict) -> None:
        """Text mode already showed everything the result holds."""

    def error(self, text: str, exit_code: int) -> None:
        """The error line itself is printed by `evcharge` (evhost.cliout.report) on
        stderr; here the live view only ends, so that line starts on its own."""
        self._end_live_line()

    def close(self) -> None:
        self._end_live_line()


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
        """The result object; the stderr line is `evcharge`'s (evhost.cliout.report)."""
        self._emit({"result": "error", "exit_code": exit_code, "message": text})

    def close(self) -> None:
        """Every JSON line is already written and flushed."""


def clean(text: str) -> str:
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
