# One method per message type the Engine receives, named exactly after it;
# evwire.Dispatcher validates, traces entry/exit and turns typed errors into
# error_response. Each method returns the reply (or None).
import evwire
from evwire import types as t
from evwire.compat import unix_time

ACCEPTS = (
    t.HEALTH_CHECK_REQUEST,
    t.START_CHARGING_COMMAND,
    t.STOP_CHARGING_COMMAND,
    t.CHARGE_COMPLETION_ACK,
)


class EngineHandlers:
    def __init__(self, chargepoint):
        self.cp = chargepoint

    def health_check_request(self, msg):
        reply = evwire.make(t.HEALTH_CHECK_RESPONSE, msg["message_id"], status=t.SUCCESS,
                            timestamp=unix_time())
        reply.update(self.cp.health())
        return reply

    def start_charging_command(self, msg):
        wrong = self._wrong_cp(msg)
        if wrong is not None:
            return self._command_response(msg, False, wrong)
        ok, text = self.cp.start(msg)
        return self._command_response(msg, ok, text)

    def stop_charging_command(self, msg):
        wrong = self._wrong_cp(msg)
        if wrong is not None:
            return self._command_response(msg, False, wrong)
        ok, text = self.cp.stop(msg)
        return self._command_response(msg, ok, text)

    def charge_completion_ack(self, msg):
        self.cp.acknowledge(msg)
        return None  # one-way: a Monitor resends its ack, we never resend ours

    def _wrong_cp(self, msg):
        if msg["cp_id"] != self.cp.cp_id:
            return "command for %s reached %s" % (msg["cp_id"], self.cp.cp_id)
        return None

    def _command_response(self, msg, ok, text):
        fields = {"cp_id": self.cp.cp_id, "command": msg["type"], "timestamp": unix_time()}
        if ok:
            return evwire.success(msg, message=text, session_id=msg["session_id"], **fields)
        return evwire.failure(msg, text, session_id=None, **fields)
