# Helpers of the Engine's unit tests (test_engine_*.py): a fake of the
# hardware facade (evengine.hardware's interface, with faults to switch on),
# a config, a scratch state directory, and raises(). Portable: run by
# tests/micropython/run.py under MicroPython and by hw_tests/test_engine_units.py
# under CPython.
import os

from evengine.config import check
from evengine.hardware import HardwareError
from evwire.compat import hexlify, urandom

_counter = [0]


class Reading:
    def __init__(self, energy_kwh, power_kw, voltage=230.0, current=10.0):
        self.energy_kwh = energy_kwh
        self.power_kw = power_kw
        self.voltage = voltage
        self.current = current


class FakeHardware:
    """A meter that counts only while the relay is closed and a car is plugged."""

    def __init__(self, energy_kwh=100.0, plugged=True, power_kw=7.0):
        self.energy_kwh = energy_kwh
        self.power_kw = power_kw
        self.plugged = plugged
        self.closed = False
        self.welded = False
        self.dead = False
        self.meter_silent = False
        self.relay_silent = False
        self.vehicle_override = None
        self.meter_reads = 0
        self.closes = 0
        self.card_reader = None  # set to a list of UIDs: the cards to present, in order
        self.reader_silent = False
        self.pilot = []  # every duty cycle written, tenths of a percent
        self.pilot_silent = False

    def set_pilot(self, duty):
        if self.pilot_silent:
            raise HardwareError("ModbusTimeout: unit 2 did not answer")
        self.pilot.append(duty)

    def flow(self, kwh):
        if self.closed and self.plugged:
            self.energy_kwh += kwh

    def read_meter(self):
        self.meter_reads += 1
        if self.meter_silent:
            raise HardwareError("ModbusTimeout: unit 1 did not answer")
        power = self.power_kw if (self.closed and self.plugged) else 0.0
        return Reading(self.energy_kwh, power)

    def set_relay(self, on):
        if self.relay_silent:
            raise HardwareError("ModbusTimeout: unit 2 did not answer")
        if self.welded:
            self.closed = True
        elif self.dead:
            self.closed = False
        else:
            self.closed = on
        if on:
            self.closes += 1
        return self.closed

    def relay_closed(self):
        if self.relay_silent:
            raise HardwareError("ModbusTimeout: unit 2 did not answer")
        return self.closed

    def vehicle_connected(self):
        if self.vehicle_override is not None:
            return self.vehicle_override
        if self.relay_silent:
            raise HardwareError("ModbusTimeout: unit 2 did not answer")
        return self.plugged

    def poll_card(self):
        if self.reader_silent:
            raise HardwareError("ModbusTimeout: unit 3 did not answer")
        if self.card_reader:
            return self.card_reader.pop(0)
        return None

    def close(self):
        pass


_previous = []


def scratch_dir():
    """A fresh directory name under /tmp (StateStore creates it). The one
    handed out before is removed: each test uses one, then the next test runs."""
    for old in _previous:
        remove_dir(old)
    del _previous[:]
    _counter[0] += 1
    path = "/tmp/evengine-test-%s-%d" % (hexlify(urandom(6)), _counter[0])
    _previous.append(path)
    return path


def remove_dir(path):
    """Remove a directory tree (no shutil on MicroPython); missing is fine."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        child = path + "/" + name
        if os.stat(child)[0] & 0x4000:  # S_IFDIR
            remove_dir(child)
        else:
            os.remove(child)
    os.rmdir(path)


def make_config(**overrides):
    raw = {"cp_id": "CP1", "meter": "/dev/null", "listen": "127.0.0.1:5999",
           "tick_s": 1.0, "monitor_grace_s": 10, "ev_full_kw": 0.05, "ev_full_s": 10,
           "meter_fail_polls": 3, "meter_estimate_s": 30, "menu": "off"}
    raw.update(overrides)
    if "state_dir" not in raw:
        raw["state_dir"] = scratch_dir()
    return check(raw)


def start_command(session_id="S1", cp_id="CP1", price=0.5):
    return {"type": "start_charging_command", "message_id": "m-start-" + session_id,
            "cp_id": cp_id, "session_id": session_id, "driver_id": "D1",
            "price_per_kwh": price, "max_charging_rate_kw": 11.0}


def stop_command(session_id="S1", cp_id="CP1"):
    return {"type": "stop_charging_command", "message_id": "m-stop-" + session_id,
            "cp_id": cp_id, "session_id": session_id}


def raises(exc_class, fn, *args):
    """Call fn(*args); return the exception it must raise (fail otherwise)."""
    try:
        fn(*args)
    except exc_class as exc:
        return exc
    raise AssertionError("%s not raised" % exc_class.__name__)
