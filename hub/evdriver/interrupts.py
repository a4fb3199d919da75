"""Ctrl-C while a session runs: counted by a signal handler, acted on by the
follow loop between two events, so showing an event or saving a ticket is
never cut in half.

Policy (docs/DRIVER.md): on a terminal the first Ctrl-C asks "stop charging?
[y/N]"; a Ctrl-C at that question means yes. Without a terminal (scripts,
`kill -INT`) or in --json mode the stop is sent without asking. A Ctrl-C
after the stop was sent leaves without waiting for the ticket (it is shown
the next time the driver starts). SIGTERM leaves at once, the session going
on at the charge point.
"""
from __future__ import annotations

import signal
import sys
from types import FrameType


class InterruptWatch:
    def __init__(self, may_ask: bool):
        # The question needs someone to read it and answer: a terminal both ways.
        self.may_ask = may_ask and sys.stdin.isatty() and sys.stdout.isatty()
        self.ctrl_c = 0
        self.terminated = False
        self._saved: dict[int, object] = {}

    def __enter__(self) -> InterruptWatch:
        self._saved[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_sigint)
        self._saved[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_sigterm)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.ctrl_c += 1

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.terminated = True

    def take(self) -> bool:
        """True once per Ctrl-C received since the last call."""
        if self.ctrl_c <= 0:
            return False
        self.ctrl_c = 0
        return True

    def confirm_stop(self, prompt: str = "stop charging? [y/N] ") -> bool:
        """Ask on the terminal; without one, the answer is yes."""
        if not self.may_ask:
            return True
        # While asking, Ctrl-C raises again: a second Ctrl-C answers yes.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            answer = input(prompt)
        except KeyboardInterrupt:
            print(file=sys.stdout)
            return True
        except EOFError:
            return False
        finally:
            signal.signal(signal.SIGINT, self._on_sigint)
        return answer.strip().lower() in ("y", "yes")
