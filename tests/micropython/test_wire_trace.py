# evwire.trace on MicroPython: a log line stays one line whatever text it is given,
# and printable() strips control characters for terminals (docs/SECURITY.md).
from evwire import trace

_lines = []


def _collect(line):
    _lines.append(line)


def test_clean_text_is_returned_as_is():
    assert trace.escape("recv heartbeat_request id=CP1") == "recv heartbeat_request id=CP1"
    assert trace.escape("") == ""
    assert trace.escape("Bay 4, \u00e9tage 2") == "Bay 4, \u00e9tage 2"


def test_control_characters_are_escaped():
    assert trace.escape("CP1\n<2>x") == "CP1\\n<2>x"
    assert trace.escape("a\rb\tc") == "a\\rb\\tc"
    assert trace.escape("\x1b[2J\x00\x7f") == "\\x1b[2J\\x00\\x7f"
    assert trace.escape("\x9b") == "\\x9b"


def test_printable_strips_control_characters():
    assert trace.printable("Bay\x1b[31m 4\x07\n") == "Bay[31m 4"
    assert trace.printable("plain") == "plain"
    assert trace.printable(42) == "42"


def test_a_log_line_with_an_injected_newline_stays_one_line():
    del _lines[:]
    trace.configure(tier="evcharge-engine", level="info", sink=_collect)
    try:
        trace.log("warning", "refused cp_id=CP1\n<3>evcharge-engine: forged")
    finally:
        trace.configure(sink=None)
    assert len(_lines) == 1
    assert _lines[0] == "<4>evcharge-engine: refused cp_id=CP1\\n<3>evcharge-engine: forged\n"
    assert _lines[0].count("\n") == 1


def test_trace_lines_are_debug_and_announce_shows_at_any_level():
    del _lines[:]
    trace.configure(tier="evcharge-engine", level="warning", sink=_collect)
    try:
        trace.trace("enter", {"type": "heartbeat_request", "message_id": "m1"})
        trace.log("info", "routine")
        trace.announce("ready listening on 127.0.0.1:1")
        trace.configure(level="debug", sink=_collect)
        trace.trace("enter", {"type": "heartbeat_request", "message_id": "m1"})
    finally:
        trace.configure(level="info", sink=None)
    assert _lines == ["<5>evcharge-engine: ready listening on 127.0.0.1:1\n",
                      "<7>evcharge-engine: enter heartbeat_request id=m1\n"]
