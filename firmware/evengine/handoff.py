# The completion hand-off (nothing lost, nothing sent twice): a finished
# session's charge_completion is kept until a Monitor acknowledges it with
# charge_completion_ack (session_id, message_id = the completion's), and is
# offered again, with the same message_id, on every new Monitor connection.
# The charge point persists `pending` whenever it changes.
from evwire.trace import log

MAX_PENDING = 8  # bounded: with this many undelivered, new sessions are refused


class CompletionHandoff:
    def __init__(self, pending=()):
        self.pending = list(pending)[-MAX_PENDING:]
        self.unsent = []  # message_ids still to send on the current connection

    def full(self):
        return len(self.pending) >= MAX_PENDING

    def has_session(self, session_id):
        for completion in self.pending:
            if completion["session_id"] == session_id:
                return True
        return False

    def add(self, completion, monitor_up):
        self.pending.append(completion)
        if monitor_up:
            self.unsent.append(completion["message_id"])

    def monitor_connected(self):
        self.unsent = [c["message_id"] for c in self.pending]

    def monitor_disconnected(self):
        self.unsent = []

    def take_unsent(self):
        out = [c for c in self.pending if c["message_id"] in self.unsent]
        self.unsent = []
        return out

    def acknowledge(self, ack):
        """Drop the acknowledged completion; False if it was not pending (a repeat)."""
        for index in range(len(self.pending)):
            completion = self.pending[index]
            if (completion["message_id"] == ack["message_id"]
                    and completion["session_id"] == ack["session_id"]):
                del self.pending[index]
                log("info", "completion of session %s acknowledged" % ack["session_id"])
                return True
        log("info", "ack for no pending completion (session %s): already done"
            % ack["session_id"])
        return False
