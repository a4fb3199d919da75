"""The simulator's one loop: the serial line, the control socket and the
model's clock, all in one thread driven by a selector."""
from __future__ import annotations

import selectors
import time
from collections.abc import Callable
from pathlib import Path

from evsim.commands import ControlCommands
from evsim.controlserver import ControlServer
from evsim.devices import bus_devices
from evsim.model import ChargePointModel
from evsim.ptylink import PtyLink
from evsim.rtu import RtuSlave
from evwire import trace

TICK_S = 0.1  # the model integrates energy at 10 Hz
# An unfinished request older than this is line noise: a real master sends a
# frame in one burst (Modbus allows at most 1.5 characters of silence inside).
STALE_PARTIAL_S = 0.25


class Simulator:
    def __init__(self, model: ChargePointModel, link: Path, control: Path):
        self.model = model
        self.link = Path(link)
        self.control_path = Path(control)
        self.slave = RtuSlave(bus_devices(model))
        self.dropped_reply_bytes = 0

    def serve(self, ready: Callable[[], None], should_stop: Callable[[], bool]) -> None:
        """Open the pty and the control socket, call ready(), then serve
        until should_stop() is true (or a signal handler raises)."""
        selector = selectors.DefaultSelector()
        line = PtyLink(self.link)
        try:
            control = ControlServer(self.control_path, ControlCommands(self.model), selector)
        except BaseException:
            line.close()
            raise
        try:
            selector.register(line.master_fd, selectors.EVENT_READ, lambda: self._on_line(line))
            trace.log("info", f"pty {line.device} linked at {self.link}")
            ready()
            self._loop(selector, should_stop)
        finally:
            control.close()
            line.close()
            selector.close()
            trace.log("info", "stopped; link and control socket removed")

    def _loop(self, selector: selectors.BaseSelector, should_stop: Callable[[], bool]) -> None:
        last_tick = time.monotonic()
        self._last_rx = last_tick
        while not should_stop():
            timeout = max(0.0, last_tick + TICK_S - time.monotonic())
            for key, _events in selector.select(timeout):
                key.data()
            now = time.monotonic()
            if now - last_tick >= TICK_S:
                self.model.advance(now - last_tick)
                last_tick = now
            if self.slave.pending and now - self._last_rx > STALE_PARTIAL_S:
                dropped = self.slave.discard_partial()
                trace.log("debug", f"modbus: dropped {dropped} bytes of an unfinished frame")

    def _on_line(self, line: PtyLink) -> None:
        data = line.read()
        if not data:
            return
        self._last_rx = time.monotonic()
        for request, reply in self.slave.feed(data):
            trace.log("debug", f"modbus: {request.hex()} -> {reply.hex()}")
            dropped = line.write(reply)
            if dropped:
                self.dropped_reply_bytes += dropped
                trace.log("warning", f"modbus: nobody reads the line, dropped {dropped} bytes")
