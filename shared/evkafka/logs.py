"""librdkafka's own log lines, through Python logging instead of raw stderr.

Without a `logger` in its configuration librdkafka prints `%3|1700000000.123|FAIL|...`
lines straight to the process's stderr: no tier prefix, no level filter, and a
broker that is down gives one per connection attempt (several a second per
client). Every client evkafka configures carries LOGGER instead: confluent_kafka
then hands each line to it (from the thread that polls the client) and the
tier's logging setup (evhost.logsetup) writes it like any other line.

Levels. confluent_kafka maps librdkafka's syslog levels onto Python's: 0-2 ->
CRITICAL, 3 -> ERROR, 4 -> WARNING, 5-6 -> INFO, 7 -> DEBUG. librdkafka logs
at 3 (ERR) what it retries by itself (a refused connect, "all brokers down"),
so for an operator that is a warning; the tier's own code reports what it gives
up on. CRITICAL stays an error.

Repeats. A down broker repeats the same line every reconnect backoff; the
RepeatLimiter lets the first through, then at most one line per interval per
distinct message carrying how many were suppressed: one warning per state
change rather than a flood.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

LOGGER_NAME = "evkafka.librdkafka"
REPEAT_INTERVAL_S = 30.0

# Parts of a librdkafka line that change between repeats of the same event:
# numbers (ms, counts, client instance), "N identical error(s) suppressed".
_VOLATILE = re.compile(r"\d+")


class RepeatLimiter:
    """At most one line per `interval` seconds for each distinct key.

    admit(key) is None when the line is to be dropped, else the number of
    repeats dropped since the last admitted one (0 the first time). Keys are
    forgotten once quiet for an interval, and at most max_keys are kept, so a
    stream of distinct lines cannot grow it without bound.
    """

    def __init__(self, interval: float = REPEAT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 256):
        self.interval = interval
        self.clock = clock
        self.max_keys = max_keys
        self._seen: dict[str, list[float | int]] = {}  # key -> [last admitted at, dropped]
        self._lock = threading.Lock()  # each Kafka client logs from its own polling thread

    def admit(self, key: str) -> int | None:
        now = self.clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return None
            dropped = int(entry[1]) if entry is not None else 0
            if entry is None and len(self._seen) >= self.max_keys:
                self._forget_quiet(now)
            if len(self._seen) < self.max_keys or key in self._seen:
                self._seen[key] = [now, 0]
            return dropped

    def _forget_quiet(self, now: float) -> None:
        for key in [k for k, (at, _n) in self._seen.items() if now - at >= self.interval]:
            del self._seen[key]


def repeat_key(message: str) -> str:
    return _VOLATILE.sub("#", message)


class LibrdkafkaFilter(logging.Filter):
    """Maps librdkafka's levels for operators and limits repeats (see the module doc)."""

    def __init__(self, limiter: RepeatLimiter | None = None):
        super().__init__()
        self.limiter = limiter or RepeatLimiter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        message = record.getMessage()
        dropped = self.limiter.admit(repeat_key(message))
        if dropped is None:
            return False
        text = "kafka: " + message
        if dropped:
            text += f" (and {dropped} more like it in the last {self.limiter.interval:g} s)"
        record.msg, record.args = text, None
        return True


def librdkafka_logger() -> logging.Logger:
    """The one logger every evkafka client logs through (set up once)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(f, LibrdkafkaFilter) for f in logger.filters):
        logger.addFilter(LibrdkafkaFilter())
    return logger


def log_settings() -> dict:
    """The librdkafka settings that route its logging: the logger, and how much it
    sends (3 = errors; everything at --log-level debug, where the reader asked for it)."""
    logger = librdkafka_logger()
    return {"logger": logger, "log_level": 7 if logger.isEnabledFor(logging.DEBUG) else 3}
