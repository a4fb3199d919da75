"""The demo's story on the terminal: who asked what, which CP charges, faults, tickets.

Lines come from three sources: the drivers' `--json` events, Central's view of
the charge points (state changes), and the operator's own actions. Live
progress is thinned to one line per session every few seconds, so the story
stays readable.
"""
from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from evdriver.model import describe_reason

PROGRESS_EVERY_S = 3.0

COLOURS = {
    "DISCONNECTED": "90", "AVAILABLE": "32", "CHARGING": "32;1", "STOPPED": "33",
    "FAULTED": "31;1", "operator": "35", "ticket": "36;1", "driver": "34", "fail": "31;1",
    "pass": "32;1", "dim": "90",
}


class OutputClosed(Exception):
    """The demo's stdout went away (the reader of its pipe, e.g. `| tee`, ended)."""


def silence(stream: TextIO) -> None:
    """Point a closed stream's descriptor at /dev/null, so nothing written later (nor
    Python's own flush at exit) fails on it again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (AttributeError, OSError, ValueError):
        pass


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


class Narrator:
    def __init__(self, stream: TextIO = sys.stdout, colour: bool | None = None):
        self.stream = stream
        self.colour = use_colour(stream) if colour is None else colour
        self.started = time.monotonic()
        self._last_progress: dict[str, float] = {}
        self.closed = False

    def paint(self, text: str, style: str) -> str:
        code = COLOURS.get(style)
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour and code else text

    def say(self, text: str, style: str | None = None) -> None:
        stamp = f"[{time.monotonic() - self.started:6.1f}s]"
        body = self.paint(text, style) if style else text
        self._write(f"{self.paint(stamp, 'dim')} {body}")

    def plain(self, text: str = "") -> None:
        self._write(text)

    def _write(self, line: str) -> None:
        """One line; a closed output raises OutputClosed once (the demo then stops its
        network), later lines are dropped: the shutdown must not fail on them."""
        if self.closed:
            return
        try:
            print(line, file=self.stream, flush=True)
        except (OSError, ValueError):
            self.closed = True
            silence(self.stream)
            raise OutputClosed() from None

    # ----- the operator (the demo itself) --------------------------------
    def operator(self, text: str) -> None:
        self.say(f"operator: {text}", "operator")

    # ----- Central's view of the charge points ---------------------------
    def cp_change(self, cp_id: str, old: str | None, new: str, row: dict) -> None:
        detail = ""
        session = row.get("session") or {}
        if new == "CHARGING" and session.get("driver_id"):
            detail = f" (driver {session['driver_id']})"
        elif new == "FAULTED" and row.get("fault_type"):
            detail = f" ({row['fault_type']})"
        elif new == "STOPPED" and row.get("stop_reason"):
            detail = f" ({row['stop_reason']})"
        before = f"{old} -> " if old else ""
        self.say(f"Central: {cp_id} {before}{self.paint(new, new)}{detail}")

    # ----- a driver's --json events ---------------------------------------
    def driver_event(self, driver_id: str, event: dict) -> None:
        kind = event.get("event") or event.get("result")
        handler = getattr(self, f"_driver_{kind}", None)
        if handler is not None:
            handler(driver_id, event)
        elif event.get("text"):
            where = f" @ {event['cp_id']}" if event.get("cp_id") else ""
            self.say(f"{driver_id}{where}: {event['text']}", "driver")

    def _driver_service(self, driver_id: str, e: dict) -> None:
        self.say(f"{driver_id} asks {e['cp_id']} for a charge "
                 f"(service {e['number']} of {e['total']})", "driver")

    def _driver_charging(self, driver_id: str, e: dict) -> None:
        self.say(f"{driver_id} @ {e['cp_id']}: charging started", "driver")

    def _driver_progress(self, driver_id: str, e: dict) -> None:
        now = time.monotonic()
        if now - self._last_progress.get(e["session_id"], 0.0) < PROGRESS_EVERY_S:
            return
        self._last_progress[e["session_id"]] = now
        self.say(f"{driver_id} @ {e['cp_id']}: {e['energy_kwh']:.3f} kWh at "
                 f"{e['rate_kw']:.1f} kW, {e['cost']:.2f} EUR so far")

    def _driver_ticket(self, driver_id: str, e: dict) -> None:
        away = " (ended while the driver was away)" if e.get("while_away") else ""
        duration = e.get("duration_s")
        took = f", {duration:.0f} s" if isinstance(duration, (int, float)) else ""
        self.say(f"{driver_id} ticket from {e['cp_id']}: {e['energy_kwh']:.3f} kWh, "
                 f"{e['cost']:.2f} EUR{took}, {describe_reason(e.get('reason'))}{away}",
                 "ticket")

    def _driver_refused(self, driver_id: str, e: dict) -> None:
        self.say(f"{driver_id} @ {e['cp_id']}: {e['text']}; the run goes on", "fail")

    def _driver_summary(self, driver_id: str, e: dict) -> None:
        done = sum(1 for s in e.get("services", []) if s.get("ok"))
        self.say(f"{driver_id} finished its services file: {done} of "
                 f"{len(e.get('services', []))} services done", "driver")

    def _driver_error(self, driver_id: str, e: dict) -> None:
        self.say(f"{driver_id} stopped with an error (exit {e.get('exit_code')}): "
                 f"{e.get('message')}", "fail")

    def _driver_ok(self, driver_id: str, e: dict) -> None:
        """The closing {"result": "ok"} line: the summary event already said it."""

    def _driver_notice(self, driver_id: str, e: dict) -> None:
        self.say(f"{driver_id}: {e['text']}", "dim")
