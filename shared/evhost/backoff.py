"""Full-jitter exponential back-off (the AWS architecture blog's "full jitter").

delay(n) = uniform(0, min(cap, base * 2**n)): many charge points that lost
Central at the same moment spread their reconnects instead of stampeding.
The attempt counter resets once a link has stayed up for `reset_after` s,
so a link that flaps after a long healthy period starts again from `base`.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    def __init__(self, base: float, cap: float, reset_after: float = 10.0,
                 rng: Callable[[float, float], float] = random.uniform,
                 clock: Callable[[], float] = time.monotonic):
        self.base = base
        self.cap = cap
        self.reset_after = reset_after
        self.attempt = 0
        self._rng = rng
        self._clock = clock
        self._up_since: float | None = None

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        # min() before the power would overflow for long outages; cap the exponent.
        return min(self.cap, self.base * (2 ** min(self.attempt, 62)))

    def next_delay(self) -> float:
        delay = self._rng(0.0, self.ceiling())
        self.attempt += 1
        return delay

    def link_up(self) -> None:
        self._up_since = self._clock()

    def link_down(self) -> None:
        """Call when the link is lost: resets the counter if it stayed up long enough."""
        if self._up_since is not None and self._clock() - self._up_since >= self.reset_after:
            self.attempt = 0
        self._up_since = None

    def reset(self) -> None:
        self.attempt = 0
        self._up_since = None
