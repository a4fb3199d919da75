# One method per message type the Engine receives, named exactly after it;
# evwire.Dispatcher validates, traces entry/exit and turns typed errors into
# error_response. Each method returns the reply (or None).
import evwire
from evwire import types as t
from evwire.compat import unix_time
from evwire.errors import RejectedError
from evwire.trace import log

ACCEPTS = (
    t.HEALTH_CHECK_REQUEST,
    t.START_CHARGING_COMMAND,
    t.STOP_CHARGING_COMMAND,
    t.CHARGE_COMPLETION_ACK,
    t.SET_CHARGING_LIMIT,
    t.LOCAL_CHARGE_RESPONSE,
    t.ERROR_RESPONSE,
)


class EngineHandlers:
    def __init__(self, chargepoint, walkup):
        self.cp = chargepoint
        self.walkup = walkup

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
        reply = self._command_response(msg, ok, text)
        if ok:  # authorised with no car yet: Central shows it, the driver is told
            reply["waiting_for_vehicle"] = self.cp.is_waiting()
        return reply

    def stop_charging_command(self, msg):
        wrong = self._wrong_cp(msg)
        if wrong is not None:
            return self._command_response(msg, False, wrong)
        ok, text = self.cp.stop(msg)
        return self._command_response(msg, ok, text)

    def set_charging_limit(self, msg):
        wrong = self._wrong_cp(msg)
        if wrong is not None:
            return self._command_response(msg, False, wrong)
        ok, text = self.cp.set_limit(msg)
        return self._command_response(msg, ok, text)

    def charge_completion_ack(self, msg):
        self.cp.acknowledge(msg)
        return None  # one-way: a Monitor resends its ack, we never resend ours

    def local_charge_response(self, msg):
        if msg["cp_id"] != self.cp.cp_id:
            raise RejectedError("local_charge_response for %s reached %s"
                                % (msg["cp_id"], self.cp.cp_id))
        self.walkup.answered(msg)
        return None

    def error_response(self, msg):
        # Never answered (an error about an error would bounce for ever).
        log("warning", "Monitor error_response id=%s (%s): %s" % (
            msg["message_id"], msg.get("request_type") or "unknown request", msg["error"]))
        self.walkup.errored(msg)
        return None

    def _wrong_cp(self, msg):
        if msg["cp_id"] != self.cp.cp_id:
            return "command for %s reached %s" % (msg["cp_id"], self.cp.cp_id)
        return None

    def _command_response(self, msg, ok, text):
        fields = {"cp_id": self.cp.cp_id, "command": msg["type"], "timestamp": unix_time()}
        if ok:
            return evwire.success(msg, t.COMMAND_RESPONSE, message=text,
                                  session_id=msg.get("session_id"), **fields)
        return evwire.failure(msg, text, t.COMMAND_RESPONSE, session_id=None, **fields)
