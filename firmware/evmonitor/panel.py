"""`--panel`: a live text panel on stdout (logs stay on stderr).

On a terminal the panel redraws in place twice a second; piped to a file it
prints a new block only when something changed, so it stays readable.
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

from evmonitor.status import ENGINE_FAULTED, ENGINE_HEALTHY
from evwire.trace import log, printable

if TYPE_CHECKING:  # the daemon imports this module: no import cycle at run time
    from evmonitor.daemon import MonitorDaemon

REFRESH_S = 0.5
CLEAR = "\x1b[H\x1b[2J"


def render(daemon: MonitorDaemon) -> str:
    """The panel text for a running MonitorDaemon."""
    cfg = daemon.cfg
    station = daemon.station
    cp = station.cp
    engine = daemon.engine_link
    central = daemon.central_link
    forwarder = daemon.forwarder
    outbox = daemon.outbox

    health = {ENGINE_HEALTHY: "healthy", ENGINE_FAULTED: f"FAULT {cp.fault_type}"}.get(
        cp.engine, "waiting for first answer")
    rtt = f", rtt {engine.last_rtt * 1000:.0f} ms" if engine.last_rtt is not None else ""
    lines = [
        f"evcharge monitor  {cfg.cp_id}  {cfg.location}".rstrip(),
        f"Engine    {engine.where:<24} {engine.state}, {health}{rtt}",
        f"Central   {central.where:<24} {central.state}",
    ]
    if forwarder is None:
        lines.append("Kafka     (not configured)         telemetry kept in the outbox")
    else:
        lines.append(f"Kafka     {forwarder.bootstrap:<24} {forwarder.link_state()}, "
                     f"{forwarder.in_flight} in flight, {forwarder.delivered} delivered")
    lines.append(f"CP status {cp.status}" + (" (stopped by operator)"
                                             if cp.operator_stopped else ""))
    session = cp.session
    if session is None:
        lines.append("Session   none")
    else:
        waiting = "  waiting for vehicle" if session.waiting_for_vehicle else ""
        driver = f"  driver {session.driver_id}" if session.driver_id else ""
        lines.append(f"Session   {session.session_id}{driver}{waiting}")
        lines.append(f"          {session.rate_kw:.2f} kW  {session.energy_kwh:.3f} kWh  "
                     f"cost {session.total_cost:.2f}  ({session.samples} samples)")
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(outbox.counts().items()))
    lines.append(f"Outbox    {outbox.depth} rows" + (f" ({counts})" if counts else "")
                 + (f", {outbox.thinned} thinned" if outbox.thinned else ""))
    lines.append(f"Commands  {len(station.pending)} waiting for the Engine")
    held = station.offline.auth_list
    lines.append("Offline   no authorisation list yet" if held.version is None else
                 f"Offline   list {held.version}: {len(held.drivers)} driver(s), "
                 f"{len(held.cards)} card(s), {held.price_per_kwh:g} per kWh")
    # Ids, the location and fault words come from Central, the Engine or a driver:
    # no control character of theirs reaches the terminal.
    return "\n".join(printable(line) for line in lines) + "\n"


def silence(out: TextIO) -> None:
    """Point a closed output at /dev/null: Python's own flush at exit would
    otherwise fail on it again (a traceback and exit status 120)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, out.fileno())
        os.close(null)
    except (AttributeError, OSError, ValueError):
        pass


async def run_panel(daemon: MonitorDaemon, out: TextIO = sys.stdout) -> None:
    live = out.isatty()
    previous = ""
    while True:
        text = render(daemon)
        try:
            if live:
                out.write(CLEAR + text + time.strftime("\n%H:%M:%S\n"))
                out.flush()
            elif text != previous:
                out.write(text + "\n")
                out.flush()
        except (OSError, ValueError) as exc:
            # The reader went away (`| less` quit, a closed terminal): the panel is
            # only a view, the charge point goes on without it.
            silence(out)
            log("warning", f"panel stopped: its output is closed ({exc}); the Monitor goes on")
            return
        previous = text
        await asyncio.sleep(REFRESH_S)
