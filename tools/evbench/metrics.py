"""Small measuring tools: percentiles, latency samples, counters of what was sent."""
from __future__ import annotations

import math
import threading


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (fraction 0..1) of unsorted values; None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarise_ms(seconds: list[float]) -> dict:
    """count, p50, p99 and max of latencies given in seconds, reported in milliseconds."""
    if not seconds:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(seconds)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


class Latencies:
    """Latency samples (seconds), appended from any thread."""

    def __init__(self):
        self._values: list[float] = []
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._values.append(seconds)

    def extend(self, seconds: list[float]) -> None:
        with self._lock:
            self._values.extend(seconds)

    def snapshot(self) -> list[float]:
        with self._lock:
            return list(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def summary(self) -> dict:
        return summarise_ms(self.snapshot())


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0
