# Tracing (the seed's improvement 3): one line per dispatch entry and exit
# with direction, type and message_id, so a message can be followed through
# every tier. Lines are journald-friendly: "<N>" priority prefix, no colour.
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


def log(level, text):
    prio = LEVELS.get(level, 6)
    if prio > _threshold:
        return
    line = "<%d>%s: %s\n" % (prio, _tier, text)
    if _sink is not None:
        _sink(line)
    else:
        stderr_write(line)


def trace(event, msg, detail=None):
    """event: 'recv', 'send', 'enter', 'exit' (or any word); msg: a message map."""
    if _threshold < 7 and event in ("send", "recv"):
        return  # wire-level chatter only at debug; enter/exit always at info
    mtype = msg.get("type", "?") if isinstance(msg, dict) else "?"
    mid = msg.get("message_id", "-") if isinstance(msg, dict) else "-"
    text = "%s %s id=%s" % (event, mtype, mid)
    if detail:
        text += " " + detail
    log("info" if event in ("enter", "exit") else "debug", text)
