"""Where the driver's log lines go: a log file in the state directory by
default (the terminal belongs to the user), stderr with --verbose.

Every handler's entry and exit is traced (evwire.trace) either way, and
librdkafka's own messages are routed to the same place instead of the
terminal.
"""
from __future__ import annotations

import logging
from pathlib import Path

from evwire import trace

TIER = "evcharge-driver"
ROTATE_AT_BYTES = 1 << 20


def open_log(state_dir: Path, driver_id: str, verbose: bool) -> None:
    if verbose:
        trace.configure(tier=TIER, level="debug")
        return
    path = state_dir / f"driver-{driver_id}.log"
    try:
        if path.exists() and path.stat().st_size > ROTATE_AT_BYTES:
            path.replace(path.with_name(path.name + ".1"))
        stream = open(path, "a", buffering=1)
    except OSError:
        trace.configure(tier=TIER, level="warning")  # no file: only what matters, on stderr
        return
    trace.configure(tier=TIER, level="info", sink=stream.write)


class _TraceHandler(logging.Handler):
    LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning"}

    def emit(self, record: logging.LogRecord) -> None:
        trace.log(self.LEVELS.get(record.levelno, "error"), "kafka: " + record.getMessage())


def kafka_logger() -> logging.Logger:
    logger = logging.getLogger("evdriver.kafka")
    if not logger.handlers:
        logger.addHandler(_TraceHandler())
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
    return logger
