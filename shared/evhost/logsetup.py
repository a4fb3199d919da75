"""One logging setup for every CPython program: --log-level, --log-format, and
Python `logging` (aiohttp, amqtt, paho, ocpp, librdkafka via evkafka) in the
same stream at the same threshold.

Every CLI calls add_log_options(parser) and, once its arguments are parsed,
setup_logging(ns, tier). Lines still come from evwire.trace (the code the
MicroPython Engine shares, untouched in behaviour); this module only gives it
a sink: `text` writes its journald line as it is (`<6>tier: text`, the
priority read by journald), `json` turns each into one JSON object per line
(ts, level, tier, msg, and message_id/type for a trace line) for Loki or
`journalctl -o cat | jq`. docs/INTERNALS.md, "Logging".
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable

from evwire import trace

LEVELS = ("debug", "info", "notice", "warning", "error")
FORMATS = ("text", "json")
ENV_LOG_LEVEL = "EVCHARGE_LOG_LEVEL"
ENV_LOG_FORMAT = "EVCHARGE_LOG_FORMAT"

_PRIORITY_NAMES = {prio: name for name, prio in trace.LEVELS.items()}
_LINE = re.compile(r"<(\d)>([^:]*): (.*)\Z", re.DOTALL)
# evwire.trace.trace() writes "EVENT TYPE id=MESSAGE_ID[ detail]".
_TRACE = re.compile(r"(recv|send|enter|exit) ([a-z_?]+) id=(\S+)")

# Python logging's levels onto ours; a threshold of notice lets logging's
# WARNING and above through (logging has no notice).
_FROM_LOGGING = ((logging.ERROR, "error"), (logging.WARNING, "warning"),
                 (logging.INFO, "info"), (logging.NOTSET, "debug"))
_TO_LOGGING = {"debug": logging.DEBUG, "info": logging.INFO, "notice": logging.WARNING,
               "warning": logging.WARNING, "error": logging.ERROR}


def env_choice(name: str, choices: tuple[str, ...], fallback: str) -> str:
    """$name if it is one of choices, else fallback (a bad value must not stop a daemon
    whose unit file sets it: the option's own check reports bad command lines)."""
    value = os.environ.get(name, "").strip().lower()
    return value if value in choices else fallback


def add_log_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                    formats: bool = True, defaults: bool = True) -> None:
    """--log-level (default $EVCHARGE_LOG_LEVEL, else info) and, for programs that
    write a log stream, --log-format (default $EVCHARGE_LOG_FORMAT, else text).
    defaults=False: both default to None, for a program whose own configuration
    layers (file < environment < flags) resolve them (the Monitor)."""
    where = f"${ENV_LOG_LEVEL}, else info" if defaults else "monitor.toml/environment, else info"
    parser.add_argument("--log-level", choices=LEVELS,
                        default=env_choice(ENV_LOG_LEVEL, LEVELS, "info") if defaults else None,
                        help=f"least severe line logged (default: {where}); debug traces "
                             "every message by message_id")
    if formats:
        parser.add_argument("--log-format", choices=FORMATS,
                            default=env_choice(ENV_LOG_FORMAT, FORMATS, "text")
                            if defaults else None,
                            help="text: journald lines '<N>tier: text'; json: one object per "
                                 f"line (default: ${ENV_LOG_FORMAT}, else text)")


def write_stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass  # no usable stderr (closed at exit): nowhere to log to


def json_line(line: str, tier: str) -> str:
    """One journald-style line as a JSON object line."""
    line = line[:-1] if line.endswith("\n") else line
    m = _LINE.match(line)
    if m is None:  # not trace's shape: keep it whole rather than lose it
        prio, msg = 6, line
    else:
        prio, tier, msg = int(m.group(1)), m.group(2), m.group(3)
    record = {"ts": round(time.time(), 3), "level": _PRIORITY_NAMES.get(prio, "info"),
              "tier": tier, "msg": msg}
    t = _TRACE.match(msg)
    if t is not None:
        record.update(event=t.group(1), type=t.group(2), message_id=t.group(3))
    return json.dumps(record, ensure_ascii=False) + "\n"


class JsonSink:
    """An evwire.trace sink writing each line as JSON to `write` (callable(str))."""

    def __init__(self, tier: str, write: Callable[[str], None] = write_stderr):
        self.tier = tier
        self.write = write

    def __call__(self, line: str) -> None:
        self.write(json_line(line, self.tier))


class TraceHandler(logging.Handler):
    """Python logging records into evwire.trace: same sink, format and threshold."""

    def emit(self, record: logging.LogRecord) -> None:
        level = next(name for floor, name in _FROM_LOGGING if record.levelno >= floor)
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a library's bad format string: log it as it is
            text = str(record.msg)
        if record.exc_info and level in ("error", "warning"):
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        name = record.name.split(".")[0]
        trace.log(level, text if name == "evkafka" else f"{name}: {text}")


def route_python_logging(level: str) -> None:
    """Every library's logging into the trace stream at this threshold (replacing any
    earlier handler on the root logger, e.g. a basicConfig)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(TraceHandler())
    root.setLevel(_TO_LOGGING.get(level, logging.INFO))
    # Routine per-request or per-packet lines some libraries log at INFO belong with
    # our debug trace; the ocpp package's INFO lines carry whole frames (idTags), so
    # they stay out at every level.
    chatty = logging.DEBUG if level == "debug" else max(logging.WARNING, root.level)
    for name in ("aiohttp.access", "amqtt", "websockets"):
        logging.getLogger(name).setLevel(chatty)
    logging.getLogger("ocpp").setLevel(max(logging.WARNING, root.level))


def setup_logging(ns: argparse.Namespace, tier: str,
                  write: Callable[[str], None] | None = None) -> Callable[[str], None]:
    """Configure evwire.trace and Python logging from --log-level/--log-format.

    write: where text goes (default stderr, flushed per line; Central passes its
    loop-batched writer). Returns the sink installed in evwire.trace.
    """
    level = getattr(ns, "log_level", None) or "info"
    fmt = getattr(ns, "log_format", None) or "text"
    out = write or write_stderr
    sink: Callable[[str], None] = JsonSink(tier, out) if fmt == "json" else out
    trace.configure(tier=tier, level=level, sink=sink)
    route_python_logging(level)
    return sink
