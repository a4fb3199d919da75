"""The Monitor's link timing, as docs/MONITOR.md publishes it, for the simulated fleet.

The fleet behaves as real Monitors would (a reconnect storm here is one of real
Monitors), but a benchmark must not reach into the Monitor's modules: these are
the documented defaults, and tests/bench/test_monitor_model.py fails the day they
and the Monitor's own part ways.
"""
from __future__ import annotations

from evhost.backoff import Backoff

HEARTBEAT_S = 1.0  # heartbeat_interval
CONNECT_TIMEOUT_S = 3.0  # TCP connect to Central
HANDSHAKE_TIMEOUT_S = 5.0  # auth + register answers
SILENCE_BEATS = 5  # Central presumed gone after this many silent heartbeats...
MIN_SILENCE_S = 5.0  # ...but never sooner than this
BACKOFF_BASE_S = 0.5  # backoff_base
BACKOFF_CAP_S = 30.0  # backoff_cap
BACKOFF_RESET_S = 10.0  # backoff_reset: a link up this long resets the back-off


def monitor_backoff() -> Backoff:
    return Backoff(BACKOFF_BASE_S, BACKOFF_CAP_S, BACKOFF_RESET_S)
