# Persistence of what must survive a crash or a power cut: the running
# session (identity, price, meter reading at start) and the completions not
# yet acknowledged by a Monitor. One small JSON file, replaced atomically
# (write a temporary file, then rename it over the old one), and written only
# when that state changes: at session start, at session end, on an ack;
# never per tick, because flash wears.
import json
import os

from evwire.trace import log

STATE_FILE = "engine_state.json"


def _join(directory, name):
    if directory.endswith("/"):
        return directory + name
    return directory + "/" + name


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def ensure_dir(directory):
    """Create `directory` and its parents (os.makedirs is not portable)."""
    path = ""
    for part in directory.split("/"):
        path = path + part + "/" if part else path + "/"
        if part and not _exists(path):
            os.mkdir(path)


class StateStore:
    """state = {"session": record or None, "pending": [completion, ...],
    "limit": {"limit_kw": kW, "until": unix time} or None (evengine.limit)}."""

    def __init__(self, directory):
        ensure_dir(directory)
        self.path = _join(directory, STATE_FILE)
        self.tmp_path = self.path + ".tmp"
        self.writes = 0  # counted so tests can prove there is no per-tick write

    def load(self):
        empty = {"session": None, "pending": [], "limit": None}
        try:
            with open(self.path) as f:
                state = json.loads(f.read())
        except OSError:
            return empty
        except ValueError as exc:
            # A torn write cannot happen (rename is atomic); a damaged file
            # is kept aside for a human and the Engine starts clean.
            log("error", "state file %s unreadable (%s); kept as .bad" % (self.path, exc))
            self._replace(self.path, self.path + ".bad")
            return empty
        if not isinstance(state, dict):
            return empty
        session = state.get("session")
        pending = state.get("pending")
        limit = state.get("limit")
        return {
            "limit": limit if isinstance(limit, dict) else None,
            "session": session if isinstance(session, dict) else None,
            "pending": [c for c in pending if isinstance(c, dict)] if isinstance(pending, list)
            else [],
        }

    def save(self, session, pending, limit=None):
        """Persist the whole state in one atomic write; no state -> no file."""
        if session is None and not pending and limit is None:
            if _exists(self.path):
                os.remove(self.path)
                self.writes += 1
            return
        data = json.dumps({"session": session, "pending": pending, "limit": limit})
        with open(self.tmp_path, "w") as f:
            f.write(data)
            f.flush()
            fsync = getattr(os, "fsync", None)  # CPython: reach the disk before the rename
            if fsync is not None:
                fsync(f.fileno())
        self._replace(self.tmp_path, self.path)
        self.writes += 1

    def _replace(self, source, target):
        try:
            os.rename(source, target)
        except OSError:
            # FAT (some boards) refuses to rename over an existing file.
            os.remove(target)
            os.rename(source, target)
