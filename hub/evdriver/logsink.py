"""Where the driver's log lines go: a log file in the state directory by
default (the terminal belongs to the user), stderr with --verbose.

Either way the lines come from evwire.trace through evhost.logsetup, so
--log-level and --log-format mean what they mean in every program, and
librdkafka's own messages (evkafka.logs) go to the same place instead of the
terminal. Each message in and out is traced at debug: --verbose alone means
debug on stderr; the file gets info unless --log-level says otherwise.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from evhost.logsetup import LEVELS, setup_logging, write_stderr
from evkafka.logs import librdkafka_logger

TIER = "evcharge-driver"
ROTATE_AT_BYTES = 1 << 20


def open_log(state_dir: Path, driver_id: str, verbose: bool, level: str | None = None,
             fmt: str = "text") -> None:
    level = level or ("debug" if verbose else "info")
    if verbose:
        setup_logging(argparse.Namespace(log_level=level, log_format=fmt), TIER)
        return
    path = state_dir / f"driver-{driver_id}.log"
    try:
        if path.exists() and path.stat().st_size > ROTATE_AT_BYTES:
            path.replace(path.with_name(path.name + ".1"))
        stream = open(path, "a", buffering=1)
    except OSError:
        # No file: only what matters, on stderr (the terminal is the user's).
        level = max(level, "warning", key=LEVELS.index)
        setup_logging(argparse.Namespace(log_level=level, log_format=fmt), TIER,
                      write=write_stderr)
        return
    setup_logging(argparse.Namespace(log_level=level, log_format=fmt), TIER,
                  write=stream.write)


def kafka_logger() -> logging.Logger:
    """The logger the driver's Kafka clients log through (librdkafka's, evkafka.logs)."""
    return librdkafka_logger()
