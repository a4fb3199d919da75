# The charge point's logic: start and stop, the per-tick watch over meter,
# relay and vehicle, how a session ends, and the completion hand-off.
#
# A session ends in two steps: the relay opens at once (end), and the bill
# closes when the meter gives the reading after that (finish). If the meter
# is silent then, the completion waits for it, or after meter_estimate_s
# uses the last good reading and says so (meter_estimated).
from evengine.faults import RELAY_FAILED, RELAY_WELDED, FaultTracker
from evengine.handoff import CompletionHandoff
from evengine.hardware import HardwareError
from evengine.session import Session, kwh, new_record, valid_record
from evwire import types as t
from evwire.compat import ticks_diff, ticks_ms
from evwire.trace import log


def _elapsed_s(now_ms, since_ms):
    return ticks_diff(now_ms, since_ms) / 1000


class ChargePoint:
    def __init__(self, config, hardware, store):
        self.cp_id = config["cp_id"]
        self.config = config
        self.hw = hardware
        self.store = store
        self.faults = FaultTracker(config["meter_fail_polls"])
        self.session = None  # Session while charging or ending
        self.handoff = CompletionHandoff()
        self.relay_on = False  # what we last commanded
        self.relay_unsure = False  # the last command may not have reached the relay
        self.vehicle = False
        self.meter_kwh = None
        self.reported_fault = None
        self.monitor_up = False
        self.monitor_lost_at = None

    # -- boot and shutdown -------------------------------------------------
    def boot(self):
        """Relay open, then pick up what a crash or power cut left behind."""
        self._switch_relay(False)
        state = self.store.load()
        self.handoff = CompletionHandoff(state["pending"])
        record = state["session"]
        if record is not None and valid_record(record):
            log("warning", "session %s was running when the Engine stopped: ending it (fault)"
                % record["session_id"])
            self.session = Session(record)
            self.session.ending = (t.REASON_FAULT, ticks_ms())
        elif record is not None:
            log("error", "discarding an unreadable session record: %r" % (record,))
            self._persist()
        if self.pending:
            log("info", "%d completion(s) waiting for a Monitor" % len(self.pending))

    def shutdown(self):
        if self.is_charging():
            self.end(t.REASON_FAULT, ticks_ms())
        else:
            self._switch_relay(False)

    # -- state -------------------------------------------------------------
    @property
    def pending(self):
        """Completions not yet acknowledged by a Monitor (persisted)."""
        return self.handoff.pending

    def is_charging(self):
        return self.session is not None and self.session.ending is None

    def health(self):
        fault = self.faults.fault_type()
        return {
            "engine_status": t.ENGINE_OK if fault is None else t.ENGINE_KO,
            "is_charging": self.is_charging(),
            "cp_id": self.cp_id,
            "vehicle_connected": self.vehicle,
            "fault_type": fault,
            "meter_energy_kwh": self.meter_kwh,
            "session_id": self.session.session_id if self.is_charging() else None,
        }

    # -- the Monitor link --------------------------------------------------
    def monitor_connected(self):
        self.monitor_up = True
        self.monitor_lost_at = None
        self.handoff.monitor_connected()

    def monitor_disconnected(self, now_ms):
        self.monitor_up = False
        self.monitor_lost_at = now_ms
        self.handoff.monitor_disconnected()

    def take_unsent(self):
        return self.handoff.take_unsent()

    def acknowledge(self, ack):
        if not self.handoff.acknowledge(ack):
            return False
        self._persist()
        return True

    # -- commands ----------------------------------------------------------
    def start(self, command):
        """Start a session: (True, text) or (False, why not)."""
        session_id = command["session_id"]
        if self.session is not None:
            if self.session.session_id == session_id and self.session.ending is None:
                return True, "already charging this session"
            return False, "already charging"
        if self.handoff.has_session(session_id):
            return False, "session already ended"
        fault = self.faults.fault_type()
        if fault is not None:
            return False, "engine faulted (%s)" % fault
        try:
            self.vehicle = self.hw.vehicle_connected()
        except HardwareError as exc:
            self.faults.relay_silent(str(exc))
            return False, "vehicle input not answering"
        if not self.vehicle:
            return False, "vehicle not connected"
        if self.handoff.full():
            return False, "too many completions not yet delivered"
        reading = self._read_meter()
        if reading is None:
            return False, "meter not answering"
        self.session = Session(new_record(command, reading.energy_kwh))
        if not self._persist():  # the one write of the session start, before energy flows
            self.session = None
            return False, "cannot record the session (storage failed)"
        if not self._switch_relay(True):
            self._switch_relay(False)
            self.session = None
            self._persist()
            return False, "relay did not close (%s)" % (self.faults.fault_type() or "no answer")
        log("info", "session %s started for %s at %.3f kWh, %s/kWh" % (
            session_id, command["driver_id"], self.session.record["meter_start_kwh"],
            command["price_per_kwh"]))
        return True, "charging started"

    def stop(self, command):
        session = self.session
        session_id = command["session_id"]
        if session is None or session.session_id != session_id:
            if self.handoff.has_session(session_id):
                return True, "session already ended"
            return False, "session %s is not charging here" % session_id
        if session.ending is not None:
            return True, "session already ending"
        # An operator's stop (reason cp_stopped) must read as such on the ticket.
        reason = t.REASON_CP_STOPPED if command.get("reason") == t.REASON_CP_STOPPED \
            else t.REASON_STOPPED
        if self.end(reason, ticks_ms()):
            return True, "charging stopped"
        return False, "relay did not open (%s)" % self.faults.fault_type()

    def end(self, reason, now_ms):
        """Open the relay and close the bill; returns whether the relay opened."""
        opened = self._switch_relay(False)
        if not opened:
            reason = t.REASON_FAULT  # energy may still flow: the operator must know
        self.session.ending = (reason, now_ms)
        log("info", "session %s ending: %s" % (self.session.session_id, reason))
        self._try_finish(self._read_meter(), now_ms)
        return opened

    # -- the tick ----------------------------------------------------------
    def tick(self, now_ms):
        """Poll the hardware, end the session if it must; returns messages to send."""
        # Relay first: a bill closed this tick must use a reading taken after
        # the relay is known open.
        self._poll_relay_module()
        reading = self._read_meter()
        self._check_faults()
        session = self.session
        if session is None:
            return ()
        if session.ending is not None:
            self._try_finish(reading, now_ms)
            return ()
        if reading is not None:
            session.last_meter_kwh = kwh(reading.energy_kwh)
        reason = self._end_reason(session, reading, now_ms)
        if reason is not None:
            self.end(reason, now_ms)
            return ()
        if reading is not None and self.monitor_up:
            return (session.charging_data(self.cp_id, reading),)
        return ()

    def _end_reason(self, session, reading, now_ms):
        config = self.config
        if self.faults.fault_type() is not None:
            return t.REASON_FAULT
        if not self.vehicle:
            return t.REASON_UNPLUGGED
        if reading is not None and session.car_finished(
                reading.power_kw, now_ms, config["ev_full_kw"], config["ev_full_s"]):
            return t.REASON_EV_FULL
        if (not self.monitor_up and self.monitor_lost_at is not None
                and _elapsed_s(now_ms, self.monitor_lost_at) >= config["monitor_grace_s"]):
            return t.REASON_MONITOR_LOST
        return None

    def _try_finish(self, reading, now_ms):
        # The bill closes on a reading taken with the relay known to be open
        # (welded is known: it will not open). Failing that within
        # meter_estimate_s, on the last good reading, flagged as such.
        session = self.session
        if reading is not None:
            session.last_meter_kwh = kwh(reading.energy_kwh)
            if not self.relay_unsure:
                self._finish(reading.energy_kwh, False)
                return
        if _elapsed_s(now_ms, session.ending[1]) >= self.config["meter_estimate_s"]:
            log("warning", "no final reading after %ds: closing session %s on the last good one"
                % (self.config["meter_estimate_s"], session.session_id))
            self._finish(session.last_meter_kwh, True)

    def _finish(self, meter_stop_kwh, estimated):
        session = self.session
        completion = session.completion(self.cp_id, session.ending[0], meter_stop_kwh, estimated)
        self.handoff.add(completion, self.monitor_up)
        self.session = None
        self._persist()  # the one write of the session end
        log("info", "session %s ended (%s): %.3f kWh, cost %.2f, completion %s" % (
            completion["session_id"], completion["reason"], completion["energy_consumed_kwh"],
            completion["total_cost"], completion["message_id"]))

    # -- hardware ----------------------------------------------------------
    def _read_meter(self):
        try:
            reading = self.hw.read_meter()
        except HardwareError as exc:
            self.faults.meter_failed(str(exc))
            if self.faults.meter_failures <= self.faults.fail_polls:  # then KO says it
                log("warning", "meter poll failed (%d in a row): %s"
                    % (self.faults.meter_failures, exc))
            return None
        self.faults.meter_ok()
        self.meter_kwh = kwh(reading.energy_kwh)
        return reading

    def _poll_relay_module(self):
        if self.relay_unsure and not self._switch_relay(self.relay_on):
            return  # the module is still silent, or now shows a real mismatch
        try:
            closed = self.hw.relay_closed()
            self.vehicle = self.hw.vehicle_connected()
        except HardwareError as exc:
            self.faults.relay_silent(str(exc))
            return
        if closed == self.relay_on:
            self.faults.relay_ok()
        elif closed:
            self.faults.relay_mismatch(RELAY_WELDED)
            self._retry_open()
        else:
            self.faults.relay_mismatch(RELAY_FAILED)

    def _retry_open(self):
        # A contact that was only sticking may open on a second command.
        try:
            self.hw.set_relay(False)
        except HardwareError as exc:
            self.faults.relay_silent(str(exc))

    def _switch_relay(self, on):
        """Command the relay and check the read-back; False if it disagrees."""
        self.relay_on = on
        try:
            actual = self.hw.set_relay(on)
        except HardwareError as exc:
            # The command may not have arrived: repeat it once the bus answers
            # rather than call the unknown state a welded or dead contactor.
            self.relay_unsure = True
            self.faults.relay_silent(str(exc))
            return False
        self.relay_unsure = False
        if actual != on:
            self.faults.relay_mismatch(RELAY_WELDED if actual else RELAY_FAILED)
            return False
        return True

    def _check_faults(self):
        fault = self.faults.fault_type()
        if fault == self.reported_fault:
            return
        if fault is not None:
            log("error", "engine KO: %s (%s)" % (fault, self.faults.last_problem))
            if self.relay_on:
                self._switch_relay(False)
        else:
            log("notice", "engine OK again (was %s)" % self.reported_fault)
        self.reported_fault = fault

    def _persist(self):
        """Write the state; False (logged) if the filesystem refused."""
        try:
            self.store.save(self.session.record if self.session is not None else None,
                            self.pending)
            return True
        except OSError as exc:
            # Charging goes on or ends as it must; only a reboot could now lose
            # what this write should have kept, so say it loudly.
            log("error", "cannot write the state file %s: %s" % (self.store.path, exc))
            return False
