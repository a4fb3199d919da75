# The charge point's logic: start and stop, the per-tick watch over meter,
# relay and vehicle, how a session ends, and the completion hand-off.
#
# A session ends in two steps: the relay opens at once (end), and the bill
# closes when the meter gives the reading after that (finish). If the meter
# is silent then, the completion waits for it, or after meter_estimate_s
# uses the last good reading and says so (meter_estimated).
#
# Authorise, then plug in: a start with no car plugged in is accepted and
# waits, relay open, for a car within the connection timeout (the command's
# connection_timeout_s, else the config's). When the car comes, the meter is
# read and the relay closes: energy counts from the plug-in. No car in time:
# the session ends no_vehicle with zero energy, a normal completion.
from evengine.faults import FaultTracker
from evengine.handoff import CompletionHandoff
from evengine.hardware import HardwareError
from evengine.hwwatch import HardwareWatch
from evengine.limit import DUTY_OFF, ChargingLimit
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
        self.watch = HardwareWatch(hardware, self.faults)
        self.session = None  # Session while waiting for the car, charging or ending
        self.handoff = CompletionHandoff()
        self.monitor_up = False
        self.monitor_lost_at = None
        self.limit = ChargingLimit(config)  # the site's share (set_charging_limit)
        self.session_kw = None  # the running session's max_charging_rate_kw
        self.offer_kw = 0.0  # what the pilot offers now (kW)
        self.pilot_duty = None  # last duty cycle written; None: write at the next tick
        self.pilot_failing = False

    # -- boot and shutdown -------------------------------------------------
    def boot(self):
        """Relay open, then pick up what a crash or power cut left behind."""
        self.watch.switch_relay(False)
        state = self.store.load()
        self.limit.restore(state.get("limit"))
        if self.limit.limit_kw is not None:
            log("info", "charging limit restored: %g kW (%s)" % (
                self.limit.limit_kw, "held" if self.limit.held()
                else "expired: safe limit %g kW" % self.config["safe_limit_kw"]))
        self.handoff = CompletionHandoff(state["pending"])
        record = state["session"]
        if record is not None and valid_record(record):
            # Waiting for a car, it ends with zero energy: none could flow.
            log("warning", "session %s was open when the Engine stopped: ending it (fault)"
                % record["session_id"])
            self.session = Session(record)
            self.session.ending = (t.REASON_FAULT, ticks_ms())
        elif record is not None:
            log("error", "discarding an unreadable session record: %r" % (record,))
            self._persist()
        if self.pending:
            log("info", "%d completion(s) waiting for a Monitor" % len(self.pending))

    def shutdown(self):
        if self.session is not None and self.session.ending is None:
            self.end(t.REASON_FAULT, ticks_ms())
        else:
            self.watch.switch_relay(False)

    # -- state -------------------------------------------------------------
    @property
    def pending(self):
        """Completions not yet acknowledged by a Monitor (persisted)."""
        return self.handoff.pending

    def is_charging(self):
        session = self.session
        return session is not None and session.ending is None and not session.waiting

    def is_waiting(self):
        """Authorised, relay open, waiting for a car to be plugged in."""
        session = self.session
        return session is not None and session.ending is None and session.waiting

    def health(self):
        fault = self.faults.fault_type()
        open_session = self.is_charging() or self.is_waiting()
        health = {
            "engine_status": t.ENGINE_OK if fault is None else t.ENGINE_KO,
            "is_charging": self.is_charging(),
            "waiting_for_vehicle": self.is_waiting(),
            "cp_id": self.cp_id,
            "vehicle_connected": self.watch.vehicle,
            "fault_type": fault,
            "meter_energy_kwh": self.watch.meter_kwh,
            "session_id": self.session.session_id if open_session else None,
        }
        site_kw = self.limit.effective_kw()
        if site_kw is not None:
            health["limit_kw"] = site_kw
        return health

    # -- the site's limit (evengine.limit) -----------------------------------
    def set_limit(self, command):
        """set_charging_limit: keep it for hold_s, apply it at once; (ok, text)."""
        hold_s = command.get("hold_s", self.config["limit_hold_s"])
        if hold_s <= 0:
            return False, "hold_s must be positive, got %s" % hold_s
        kw = command["limit_kw"]
        if self.limit.set(kw, hold_s) and not self._persist():
            log("warning", "charging limit %g kW applied but not persisted" % kw)
        self.apply_pilot()
        return True, "limit %g kW for %g s (offering %g kW)" % (kw, hold_s, self.offer_kw)

    def apply_pilot(self):
        """Write the pilot's duty cycle if it changed (or the last write failed)."""
        _, duty, self.offer_kw = self.limit.offer(self.is_charging(), self.session_kw)
        if duty == self.pilot_duty:
            return
        set_pilot = getattr(self.hw, "set_pilot", None)  # hardware without a pilot
        if set_pilot is None:
            self.pilot_duty = duty
            return
        try:
            set_pilot(duty)
        except HardwareError as exc:
            if not self.pilot_failing:
                log("error", "cannot set the pilot to %d/1000: %s" % (duty, exc))
            self.pilot_failing = True
            self.pilot_duty = None  # retried at the next tick
            return
        if self.pilot_failing:
            log("notice", "pilot answering again")
        self.pilot_failing = False
        if self.pilot_duty is not None or duty != DUTY_OFF:
            log("info", "pilot duty %d/1000: offering %g kW" % (duty, self.offer_kw))
        self.pilot_duty = duty

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
        """Start a session, or authorise one that waits for the car: (True, text)
        or (False, why not)."""
        session_id = command["session_id"]
        if self.session is not None:
            if self.session.session_id == session_id and self.session.ending is None:
                if self.session.waiting:
                    return True, "already waiting for the vehicle for this session"
                return True, "already charging this session"
            return False, "already charging"
        if self.handoff.has_session(session_id):
            return False, "session already ended"
        fault = self.faults.fault_type()
        if fault is not None:
            return False, "engine faulted (%s)" % fault
        # The schema bounds every number (finite, price 0-100/kWh, rate 0-1000 kW);
        # a start also needs a rate above zero and a wait for the car above zero.
        if command["max_charging_rate_kw"] <= 0:
            return False, "max_charging_rate_kw must be positive, got %s" % (
                command["max_charging_rate_kw"],)
        timeout_s = command.get("connection_timeout_s", self.config["connection_timeout_s"])
        if timeout_s <= 0:
            return False, "connection_timeout_s must be positive, got %s" % timeout_s
        if not self.watch.read_vehicle():
            return False, "vehicle input not answering"
        if self.handoff.full():
            return False, "too many completions not yet delivered"
        if not self.watch.vehicle:
            return self._authorise(command, timeout_s)
        reading = self.watch.read_meter()
        if reading is None:
            return False, "meter not answering"
        self.session = Session(new_record(command, reading.energy_kwh))
        self.session_kw = command["max_charging_rate_kw"]
        if not self._persist():  # the one write of the session start, before energy flows
            self.session = None
            return False, "cannot record the session (storage failed)"
        self.apply_pilot()  # the car sees its offer before the contactor closes
        if not self.watch.switch_relay(True):
            self.watch.switch_relay(False)
            self.session = None
            self._persist()
            return False, "relay did not close (%s)" % (self.faults.fault_type() or "no answer")
        log("info", "session %s started for %s at %.3f kWh, %s/kWh" % (
            session_id, command["driver_id"], self.session.record["meter_start_kwh"],
            command["price_per_kwh"]))
        return True, "charging started"

    def _authorise(self, command, timeout_s):
        session = Session(new_record(command, None))
        self.session_kw = command["max_charging_rate_kw"]
        session.wait_for_vehicle(timeout_s)
        self.session = session
        if not self._persist():  # a reboot must find it, to close it exactly once
            self.session = None
            return False, "cannot record the session (storage failed)"
        log("info", "session %s authorised for %s: waiting up to %g s for a vehicle" % (
            session.session_id, command["driver_id"], timeout_s))
        return True, "waiting for vehicle (plug in within %g s)" % timeout_s

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
        session = self.session
        if session.waiting:  # the relay never closed: nothing to open, nothing to read
            session.ending = (reason, now_ms)
            log("info", "session %s ending before any vehicle came: %s"
                % (session.session_id, reason))
            self._finish(None, False)
            return True
        opened = self.watch.switch_relay(False)
        if not opened:
            reason = t.REASON_FAULT  # energy may still flow: the operator must know
        session.ending = (reason, now_ms)
        log("info", "session %s ending: %s" % (session.session_id, reason))
        self._try_finish(self.watch.read_meter(), now_ms)
        return opened

    # -- the tick ----------------------------------------------------------
    def tick(self, now_ms):
        """Poll the hardware, end the session if it must; returns messages to send."""
        # Relay first: a bill closed this tick must use a reading taken after
        # the relay is known open.
        watch = self.watch
        watch.poll_relay_module()
        reading = watch.read_meter()
        watch.check_faults()
        self.apply_pilot()
        session = self.session
        if session is None:
            return ()
        if session.ending is not None:
            self._try_finish(reading, now_ms)
            return ()
        if session.waiting:
            self._watch_for_vehicle(session, reading, now_ms)
            return ()
        if reading is not None:
            session.last_meter_kwh = kwh(reading.energy_kwh)
        reason = self._end_reason(session, reading, now_ms)
        if reason is not None:
            self.end(reason, now_ms)
            return ()
        if reading is not None and self.monitor_up:
            data = session.charging_data(self.cp_id, reading)
            data["limit_kw"] = self.offer_kw
            return (data,)
        return ()

    def _monitor_gone(self, now_ms):
        return (not self.monitor_up and self.monitor_lost_at is not None
                and _elapsed_s(now_ms, self.monitor_lost_at) >= self.config["monitor_grace_s"])

    def _end_reason(self, session, reading, now_ms):
        config = self.config
        if self.faults.fault_type() is not None:
            return t.REASON_FAULT
        if not self.watch.vehicle:
            return t.REASON_UNPLUGGED
        if self.offer_kw <= 0:  # the pilot offers nothing: the car waits, it is not full
            session.low_power_since = None
        elif reading is not None and session.car_finished(
                reading.power_kw, now_ms, config["ev_full_kw"], config["ev_full_s"]):
            return t.REASON_EV_FULL
        if self._monitor_gone(now_ms):
            return t.REASON_MONITOR_LOST
        return None

    def _watch_for_vehicle(self, session, reading, now_ms):
        if self.faults.fault_type() is not None:
            self.end(t.REASON_FAULT, now_ms)
        elif self._monitor_gone(now_ms):
            self.end(t.REASON_MONITOR_LOST, now_ms)
        elif self.watch.vehicle and reading is not None:
            self._vehicle_came(session, reading, now_ms)
        elif session.wait_expired(now_ms):
            log("notice", "session %s: no vehicle within %g s" % (
                session.session_id, session.connection_timeout_s))
            self.end(t.REASON_NO_VEHICLE, now_ms)

    def _vehicle_came(self, session, reading, now_ms):
        session.vehicle_plugged_in(reading.energy_kwh)
        # The start reading is persisted before energy flows, as for any start.
        self.apply_pilot()
        if not self._persist() or not self.watch.switch_relay(True):
            log("error", "session %s: cannot start charging the vehicle (%s)" % (
                session.session_id, self.faults.fault_type() or "storage failed"))
            self.end(t.REASON_FAULT, now_ms)
            return
        log("info", "session %s: vehicle plugged in, charging from %.3f kWh" % (
            session.session_id, session.record["meter_start_kwh"]))

    def _try_finish(self, reading, now_ms):
        # The bill closes on a reading taken with the relay known to be open
        # (welded is known: it will not open). Failing that within
        # meter_estimate_s, on the last good reading, flagged as such.
        session = self.session
        if session.waiting:  # ended (e.g. at boot) before a car came: zero energy
            self._finish(None, False)
            return
        if reading is not None:
            session.last_meter_kwh = kwh(reading.energy_kwh)
            if not self.watch.relay_unsure:
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

    def _persist(self):
        """Write the state; False (logged) if the filesystem refused."""
        try:
            self.store.save(self.session.record if self.session is not None else None,
                            self.pending, self.limit.record())
            return True
        except OSError as exc:
            # Charging goes on or ends as it must; only a reboot could now lose
            # what this write should have kept, so say it loudly.
            log("error", "cannot write the state file %s: %s" % (self.store.path, exc))
            return False
