"""Slow down guessing: failed attempts are counted per key (a peer's address, an
id, a token) over a sliding window, and past a few free failures the answer to
the next attempt under that key waits, longer with every failure.

A guesser then gets a handful of fast answers and after that one answer every
few seconds, while an honest peer that mistyped once is not slowed at all.
Memory is bounded: at most `max_keys` keys, each keeping at most `per_key`
timestamps; the least recently failed key is forgotten first.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque


class FailureThrottle:
    def __init__(self, window_s: float = 60.0, free: int = 5, base_delay_s: float = 0.25,
                 max_delay_s: float = 5.0, max_keys: int = 10_000, per_key: int = 128,
                 clock=time.monotonic):
        self.window_s = window_s
        self.free = free
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.max_keys = max_keys
        self.per_key = per_key
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def failed(self, *keys: str) -> None:
        """Record one failed attempt under each key."""
        now = self.clock()
        for key in keys:
            stamps = self._failures.pop(key, None)
            if stamps is None:
                stamps = deque(maxlen=self.per_key)
            stamps.append(now)
            self._failures[key] = stamps  # most recently failed last
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of keys that just proved themselves (an id, not an address)."""
        for key in keys:
            self._failures.pop(key, None)

    def recent(self, key: str) -> int:
        """Failures under key within the window."""
        stamps = self._failures.get(key)
        if not stamps:
            return 0
        horizon = self.clock() - self.window_s
        while stamps and stamps[0] < horizon:
            stamps.popleft()
        return len(stamps)

    def delay(self, *keys: str) -> float:
        """Seconds to wait before answering the next attempt under any of keys."""
        worst = max((self.recent(key) for key in keys), default=0)
        if worst < self.free:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2 ** (worst - self.free))
