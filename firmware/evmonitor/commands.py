"""Commands forwarded to the Engine and waiting for its answer.

Each entry remembers who asked (Central, or the Monitor itself for the stop it
sends on stop_cp_command) so the Engine's command_response or error_response
can be passed on with the command's type and session; an Engine that never
answers gets its commands failed after `timeout` seconds.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_PENDING = 256  # a stuck Engine must not grow this without bound


@dataclass
class PendingCommand:
    message_id: str
    command: str
    session_id: str | None
    relay_to_central: bool
    deadline: float
    request: dict


class PendingCommands:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self._entries: OrderedDict[str, PendingCommand] = OrderedDict()

    def add(self, msg: dict, relay_to_central: bool = True) -> list[PendingCommand]:
        """Track `msg`; returns entries evicted to stay bounded (to be failed)."""
        entry = PendingCommand(msg["message_id"], msg["type"], msg.get("session_id"),
                               relay_to_central, time.monotonic() + self.timeout, msg)
        self._entries[entry.message_id] = entry
        evicted = []
        while len(self._entries) > MAX_PENDING:
            evicted.append(self._entries.popitem(last=False)[1])
        return evicted

    def pop(self, message_id: str) -> PendingCommand | None:
        return self._entries.pop(message_id, None)

    def expired(self) -> list[PendingCommand]:
        now = time.monotonic()
        gone = [e for e in self._entries.values() if e.deadline <= now]
        for entry in gone:
            del self._entries[entry.message_id]
        return gone

    def drain(self) -> list[PendingCommand]:
        entries = list(self._entries.values())
        self._entries.clear()
        return entries

    def __len__(self) -> int:
        return len(self._entries)
