"""Unit tests: the librdkafka repeat limiter and level mapping, the JSON line format,
Python logging routed into evwire.trace."""
from __future__ import annotations

import json
import logging

from evhost import logsetup
from evkafka.logs import LibrdkafkaFilter, RepeatLimiter, repeat_key
from evwire import trace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_line_passes_repeats_wait_for_the_interval_with_a_count():
    clock = Clock()
    limiter = RepeatLimiter(interval=30.0, clock=clock)
    assert limiter.admit("down") == 0
    for _ in range(5):
        clock.now += 2
        assert limiter.admit("down") is None
    clock.now += 20  # 30 s after the first
    assert limiter.admit("down") == 5
    clock.now += 1
    assert limiter.admit("down") is None


def test_distinct_lines_are_limited_separately():
    clock = Clock()
    limiter = RepeatLimiter(interval=30.0, clock=clock)
    assert limiter.admit("a") == 0
    assert limiter.admit("b") == 0
    assert limiter.admit("a") is None and limiter.admit("b") is None


def test_the_key_table_is_bounded_and_forgets_quiet_keys():
    clock = Clock()
    limiter = RepeatLimiter(interval=30.0, clock=clock, max_keys=3)
    for key in "abc":
        limiter.admit(key)
    assert limiter.admit("d") == 0  # full: admitted, not remembered
    assert limiter.admit("d") == 0
    clock.now += 31
    assert limiter.admit("e") == 0  # the quiet keys were forgotten to make room
    assert limiter.admit("e") is None


def test_librdkafka_lines_differing_only_in_numbers_are_one_line():
    a = ("FAIL [rdkafka#producer-1] [thrd:127.0.0.1:9/bootstrap]: Connect to ipv4#127.0.0.1:9 "
         "failed: Connection refused (after 0ms in state CONNECT)")
    b = a.replace("after 0ms", "after 12ms").replace("producer-1", "producer-3")
    assert repeat_key(a) == repeat_key(b)


def _record(level: int, text: str) -> logging.LogRecord:
    return logging.LogRecord("evkafka.librdkafka", level, __file__, 1, text, None, None)


def test_filter_maps_errs_to_warnings_and_counts_what_it_dropped():
    clock = Clock()
    f = LibrdkafkaFilter(RepeatLimiter(interval=30.0, clock=clock))
    first = _record(logging.ERROR, "FAIL [x] broker down (after 0ms)")
    assert f.filter(first) and first.levelno == logging.WARNING
    assert first.getMessage() == "kafka: FAIL [x] broker down (after 0ms)"
    assert not f.filter(_record(logging.ERROR, "FAIL [x] broker down (after 3ms)"))
    clock.now += 30
    later = _record(logging.ERROR, "FAIL [x] broker down (after 1ms)")
    assert f.filter(later)
    assert later.getMessage().endswith("(and 1 more like it in the last 30 s)")
    crit = _record(logging.CRITICAL, "FATAL [x] something")
    assert f.filter(crit) and crit.levelno == logging.CRITICAL


def test_json_line_has_the_fields_and_the_trace_ids():
    plain = json.loads(logsetup.json_line("<4>evcharge-central: CP1 refused\n", "x"))
    assert plain["level"] == "warning" and plain["tier"] == "evcharge-central"
    assert plain["msg"] == "CP1 refused" and isinstance(plain["ts"], float)
    assert "message_id" not in plain
    traced = json.loads(logsetup.json_line(
        "<7>evcharge-monitor: exit heartbeat_response id=abc-123 -> x\n", "x"))
    assert traced["type"] == "heartbeat_response" and traced["message_id"] == "abc-123"
    assert traced["event"] == "exit" and traced["level"] == "debug"


def test_python_logging_goes_through_the_trace_threshold_and_sink():
    lines: list[str] = []
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        trace.configure(tier="t", level="warning", sink=lines.append)
        logsetup.route_python_logging("warning")
        logging.getLogger("aiohttp.server").info("routine")
        logging.getLogger("aiohttp.server").error("broken")
        logging.getLogger("amqtt.broker").warning("per packet")  # chatty: warning passes
    finally:
        trace.configure(tier="evcharge", level="info", sink=None)
        root.handlers[:], root.level = saved  # pytest's own capture handlers back
    assert lines == ["<3>t: aiohttp: broken\n", "<4>t: amqtt: per packet\n"]
