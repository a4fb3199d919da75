"""What the bridge knows of each CP: the latest cp_status record, as MQTT values.

Stateless across restarts by design: everything is rebuilt from the compacted
cp-status topic, read from its beginning.
"""
from __future__ import annotations

from evmqtt.topics import OFFLINE, ONLINE
from evwire import types as t

# Not "": an empty retained message deletes the topic's retained value.
NO_DRIVER = "none"


def fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


class CpView:
    def __init__(self, cp_id: str):
        self.cp_id = cp_id
        self.location = ""
        self.max_kw: float | None = None
        self.values: dict[str, str] = {}  # field -> retained payload
        self.session_id: str | None = None
        self.timestamp = 0  # of the record the values come from

    def apply(self, msg: dict) -> dict[str, str]:
        """Take a validated cp_status message; return the fields whose value changed."""
        self.location = msg.get("location") or self.location
        self.max_kw = msg.get("max_kw", self.max_kw)
        self.timestamp = msg["timestamp"]
        state = msg["state"]
        new = {"state": state,
               "availability": OFFLINE if state == t.CP_DISCONNECTED else ONLINE}
        session_id = msg.get("session_id")
        if session_id is not None:
            if session_id != self.session_id and msg["event"] != t.STATUS_EVENT_SESSION_END:
                self.session_id = session_id  # a new session: its energy starts at 0
            new["power"] = fmt(msg.get("power_kw", 0.0), 3)
            new["energy"] = fmt(msg.get("energy_kwh", 0.0), 3)
            new["cost"] = fmt(msg.get("cost", 0.0), 2)
            new["driver"] = msg.get("driver_id") or NO_DRIVER
            if msg["event"] == t.STATUS_EVENT_SESSION_END:
                new["power"] = fmt(0.0, 3)
        else:
            # No live session: no power; the last session's energy and cost stay shown.
            new["power"] = fmt(0.0, 3)
            new["driver"] = NO_DRIVER
            new.setdefault("energy", self.values.get("energy", fmt(0.0, 3)))
            new.setdefault("cost", self.values.get("cost", fmt(0.0, 2)))
        changed = {k: v for k, v in new.items() if self.values.get(k) != v}
        self.values.update(new)
        return changed
