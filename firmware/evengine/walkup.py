# Walk-up charging: a driver asks at the charge point itself, with a card on
# the reader or a driver id (or card UID) typed on the key menu. The Engine
# only asks: local_charge_request to its Monitor, which forwards it to
# Central; Central decides (driver known, CP free) and answers through the
# Monitor (local_charge_response), then starts the session with the usual
# start_charging_command. What the Engine can tell by itself it refuses at
# once: no Monitor (a CP whose Monitor is down accepts no request, not even a
# local one), a session already open, a fault. Every outcome is one line on
# the CP's display: the log, and the key menu when there is one.
import evwire
from evwire import types as t
from evwire.compat import ticks_diff, unix_time
from evwire.trace import log

MONITOR_UNREACHABLE = "monitor unreachable"
# The Monitor answers at once when Central is down, so only a lost answer
# (a Monitor that hung) runs into this.
ANSWER_TIMEOUT_MS = 10000


def who_asks(driver_id, card_uid):
    return "driver %s" % driver_id if driver_id else "card %s" % card_uid


class WalkUp:
    def __init__(self, chargepoint, send, show=None):
        self.cp = chargepoint
        self.send = send  # send(msg) -> False when no Monitor took it
        self.show = show  # show(text): a second display besides the log (the key menu)
        self.pending = None  # (message_id, who, ticks_ms sent) of the request in flight

    def display(self, text):
        log("notice", "walk-up: %s" % text)
        if self.show is not None:
            self.show(text)

    # -- asking --------------------------------------------------------------
    def request(self, now_ms, driver_id=None, card_uid=None):
        """Ask Central to charge this driver (or card holder) here; True if asked."""
        who = who_asks(driver_id, card_uid)
        why = self._refusal()
        if why is None:
            msg = evwire.make(t.LOCAL_CHARGE_REQUEST, cp_id=self.cp.cp_id, timestamp=unix_time())
            if driver_id:
                msg["driver_id"] = driver_id
            else:
                msg["card_uid"] = card_uid
            if self.send(msg):
                self.pending = (msg["message_id"], who, now_ms)
                self.display("%s: asking Central (request %s)" % (who, msg["message_id"]))
                return True
            why = MONITOR_UNREACHABLE
        self.display("%s: refused: %s" % (who, why))
        return False

    def _refusal(self):
        cp = self.cp
        if not cp.monitor_up:
            return MONITOR_UNREACHABLE
        if self.pending is not None:
            return "still waiting for the answer for %s" % self.pending[1]
        if cp.session is not None:
            return "charge point busy (session %s)" % cp.session.session_id
        fault = cp.faults.fault_type()
        if fault is not None:
            return "charge point out of order (%s)" % fault
        if cp.handoff.full():
            return "too many completions not yet delivered"
        return None

    # -- answers ---------------------------------------------------------------
    def _take(self, msg):
        """The waiting request this message answers (its `who`), or None."""
        pending = self.pending
        if pending is None or pending[0] != msg["message_id"]:
            log("notice", "%s id=%s answers no waiting walk-up request: ignored"
                % (msg["type"], msg["message_id"]))
            return None
        self.pending = None
        return pending[1]

    def answered(self, msg):
        """local_charge_response from Central (or from the Monitor, without Central)."""
        who = self._take(msg)
        if who is None:
            return
        if msg["status"] != t.SUCCESS:
            self.display("%s: refused: %s" % (who, msg["message"]))
            return
        next_step = "charging starts" if self.cp.watch.vehicle else "plug in the vehicle"
        self.display("%s: authorised for %s, session %s: %s" % (
            who, msg.get("driver_id") or "?", msg.get("session_id") or "?", next_step))

    def errored(self, msg):
        """error_response: the Monitor could not take our request at all."""
        who = self._take(msg)
        if who is not None:
            self.display("%s: refused: %s" % (who, msg["error"]))

    # -- time and the link -------------------------------------------------------
    def boot(self):
        # A reader's first poll only learns its swipe counter (a card shown
        # before the Engine ran is not replayed): done before "ready", so
        # every swipe after it counts.
        self.cp.watch.poll_card()

    def tick(self, now_ms):
        """Give up on a lost answer; read the card reader (a swipe is a request)."""
        pending = self.pending
        if pending is not None and ticks_diff(now_ms, pending[2]) >= ANSWER_TIMEOUT_MS:
            self.pending = None
            self.display("%s: no answer from Central within %d s: ask again"
                         % (pending[1], ANSWER_TIMEOUT_MS // 1000))
        uid = self.cp.watch.poll_card()
        if uid:
            log("info", "card %s presented" % uid)
            self.request(now_ms, card_uid=uid)

    def monitor_lost(self):
        if self.pending is not None:
            who = self.pending[1]
            self.pending = None
            self.display("%s: %s before the answer came: ask again" % (who, MONITOR_UNREACHABLE))
