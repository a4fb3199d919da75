# Engine health: OK or KO with a fault_type. Hardware faults clear themselves
# when the hardware answers correctly again; a fault forced from the key menu
# stays until the menu recovers it.
from evwire import types as t

METER_UNREACHABLE = "meter_unreachable"
RELAY_WELDED = "relay_welded"  # commanded open, reads closed
RELAY_FAILED = "relay_failed"  # commanded closed reads open, or the module is silent
SIMULATED = "simulated_fault"


class FaultTracker:
    def __init__(self, fail_polls):
        # One timeout or CRC error is line noise; `fail_polls` in a row is a fault.
        self.fail_polls = fail_polls
        self.meter_failures = 0
        self.relay_failures = 0
        self.relay_fault = None
        self.forced = False
        self.last_problem = None  # text of the latest hardware error, for logs

    def meter_ok(self):
        self.meter_failures = 0

    def meter_failed(self, problem):
        self.meter_failures += 1
        self.last_problem = "meter: %s" % problem

    def relay_ok(self):
        self.relay_failures = 0
        self.relay_fault = None

    def relay_mismatch(self, fault_type):
        """A read-back that contradicts the command is a fault at once."""
        self.relay_fault = fault_type
        self.last_problem = "relay: %s" % fault_type

    def relay_silent(self, problem):
        self.relay_failures += 1
        self.last_problem = "relay module: %s" % problem
        if self.relay_failures >= self.fail_polls:
            self.relay_fault = RELAY_FAILED

    def force(self, on):
        self.forced = on

    def fault_type(self):
        """The fault to report (the most specific first), or None when healthy."""
        if self.relay_fault is not None:
            return self.relay_fault
        if self.meter_failures >= self.fail_polls:
            return METER_UNREACHABLE
        if self.forced:
            return SIMULATED
        return None

    def engine_status(self):
        return t.ENGINE_OK if self.fault_type() is None else t.ENGINE_KO
