# The charge point's hardware as the session logic needs it: the contactor
# commanded and read back, the meter and the vehicle input polled, the card
# reader asked for swipes; every failure goes to the FaultTracker, so the
# session logic only asks "is there a fault" and "what is the reading".
from evengine.faults import RELAY_FAILED, RELAY_WELDED
from evengine.hardware import HardwareError
from evengine.session import kwh
from evwire.trace import log


class HardwareWatch:
    def __init__(self, hardware, faults):
        self.hw = hardware
        self.faults = faults
        self.relay_on = False  # what we last commanded
        self.relay_unsure = False  # the last command may not have reached the relay
        self.vehicle = False
        self.meter_kwh = None
        self.reported_fault = None
        self.reader_problem = None  # the card reader's last failure, logged once

    def read_meter(self):
        """The meter's reading, or None (counted towards a meter fault)."""
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

    def read_vehicle(self):
        """Ask the plugged-in input now; False (and a relay fault counted) if it is silent."""
        try:
            self.vehicle = self.hw.vehicle_connected()
        except HardwareError as exc:
            self.faults.relay_silent(str(exc))
            return False
        return True

    def poll_relay_module(self):
        if self.relay_unsure and not self.switch_relay(self.relay_on):
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

    def switch_relay(self, on):
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

    def check_faults(self):
        fault = self.faults.fault_type()
        if fault == self.reported_fault:
            return
        if fault is not None:
            log("error", "engine KO: %s (%s)" % (fault, self.faults.last_problem))
            if self.relay_on:
                self.switch_relay(False)
        else:
            log("notice", "engine OK again (was %s)" % self.reported_fault)
        self.reported_fault = fault

    def poll_card(self):
        """A card UID swiped since the last poll, or None. The reader is an
        extra: when it fails the charge point still charges, so a failure is
        logged (once, and its end) but is no fault."""
        try:
            uid = self.hw.poll_card()
        except HardwareError as exc:
            if self.reader_problem is None:
                log("warning", "card reader not answering: %s" % exc)
            self.reader_problem = str(exc)
            return None
        if self.reader_problem is not None:
            log("notice", "card reader answering again")
            self.reader_problem = None
        return uid
