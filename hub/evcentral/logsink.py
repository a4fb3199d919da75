"""Central's log lines, written once per turn of the event loop instead of once per line.

At --log-level debug every handler logs its entry and exit: with thousands of
charge points that is tens of thousands of lines a second, and one write()
system call each cost a good part of a core (docs/BENCHMARKS.md, Profiling).
Lines logged on the loop's thread are collected and written together at the
loop's next turn, so they still appear within milliseconds and in order;
lines from other threads (the Kafka threads) are written at once. A crash
(SIGKILL) loses at most the lines of the turn in progress.
"""
from __future__ import annotations

import asyncio
import sys
import threading


class LoopBatchedSink:
    """An evwire.trace sink (callable(line)); attach() it to the running loop."""

    def __init__(self):
        self._lines: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._lock = threading.Lock()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Batch the lines logged on this loop's thread (call from that thread)."""
        self._loop = loop
        self._thread = threading.get_ident()

    def detach(self) -> None:
        """Write what is pending and go back to writing each line at once."""
        self.flush()
        self._loop = None
        self._thread = None

    def __call__(self, line: str) -> None:
        loop = self._loop
        if loop is None or threading.get_ident() != self._thread or loop.is_closed():
            self._write(line)
            return
        if not self._lines:
            loop.call_soon(self.flush)
        self._lines.append(line)

    def flush(self) -> None:
        if self._lines:
            text = "".join(self._lines)
            self._lines.clear()
            self._write(text)

    def _write(self, text: str) -> None:
        with self._lock:
            try:
                sys.stderr.write(text)
                sys.stderr.flush()
            except (AttributeError, OSError, ValueError):
                pass  # no usable stderr (closed at exit): nowhere to log to


SINK = LoopBatchedSink()
