# Tracing (the seed's improvement 3): one line per dispatch entry and exit
# with direction, type and message_id, so a message can be followed through
# every tier. Lines are journald-friendly: "<N>" priority prefix, no colour.
# Trace lines are debug: at info a heartbeat, health check or charging_data
# costs no line at all (two per request drowned the events an operator looks
# for); handlers log those events (connects, auth, sessions, faults) themselves.
from evwire.compat import stderr_write

LEVELS = {"debug": 7, "info": 6, "notice": 5, "warning": 4, "error": 3}

_sink = None
_threshold = 6  # info
_tier = "evcharge"


def configure(tier=None, level=None, sink=None):
    """tier: name in each line; level: 'debug'..'error'; sink: callable(line)."""
    global _sink, _threshold, _tier
    if tier is not None:
        _tier = tier
    if level is not None:
        _threshold = LEVELS.get(level, 6)
    _sink = sink


# A text is inspected character by character only when a quick C-speed test
# says it might hold a control character: most log lines never pay for it.
_HAS_ISPRINTABLE = hasattr(str, "isprintable")  # CPython; MicroPython has no isprintable
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _is_control(ch):
    c = ord(ch)
    return c < 32 or 127 <= c < 160 or c == 0x2028 or c == 0x2029


def _maybe_controls(text):
    if _HAS_ISPRINTABLE:
        return not text.isprintable()
    return bool(text) and (min(text) < " " or max(text) >= "\x7f")


def escape(text):
    """text with control characters shown as \\n, \\r, \\t or \\xNN: what a peer
    sent can never split a log line or drive the reader's terminal."""
    if not _maybe_controls(text):
        return text
    out = []
    for ch in text:
        if _is_control(ch):
            c = ord(ch)
            out.append(_NAMED.get(ch) or ("\\x%02x" % c if c < 256 else "\\u%04x" % c))
        else:
            out.append(ch)
    return "".join(out)


def printable(text):
    """text without its control characters, for tables and panels on a terminal."""
    text = str(text)
    if not _maybe_controls(text):
        return text
    return "".join([ch for ch in text if not _is_control(ch)])


def log(level, text):
    prio = LEVELS.get(level, 6)
    if prio > _threshold:
        return
    _emit(prio, text)


def announce(text):
    """A notice shown whatever the level: the one "ready" line that supervisors,
    the demo and operators wait for must not vanish under --log-level warning."""
    _emit(5, text)


def _emit(prio, text):
    line = "<%d>%s: %s\n" % (prio, _tier, escape(text))
    if _sink is not None:
        _sink(line)
    else:
        stderr_write(line)


def trace(event, msg, detail=None):
    """event: 'recv', 'send', 'enter', 'exit' (or any word); msg: a message map."""
    if _threshold < 7:
        return  # every trace line is debug: decided before any formatting
    mtype = msg.get("type", "?") if isinstance(msg, dict) else "?"
    mid = msg.get("message_id", "-") if isinstance(msg, dict) else "-"
    text = "%s %s id=%s" % (event, mtype, mid)
    if detail:
        text += " " + detail
    log("debug", text)
