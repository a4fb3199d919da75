# One charging session: its persisted record, billing from meter deltas, the
# "car finished" detector, and the messages it produces. Energy is always the
# meter reading now minus the reading at start (never a running sum), so a
# missed tick or a reboot loses nothing: the meter kept counting.
#
# A session authorised before a car is plugged in waits for it: its record
# has no meter reading yet (meter_start_kwh null), and the reading is taken
# when the car comes and the relay closes, so energy counts from the plug-in.
# Ended while waiting, it bills zero.
import evwire
from evwire import types as t
from evwire.compat import ticks_diff, unix_time

RECORD_FIELDS = ("session_id", "driver_id", "price_per_kwh", "meter_start_kwh", "started_at")


def kwh(value):
    """A meter reading at the meter's own resolution (1 Wh)."""
    return round(value, 3)


def energy_between(start_kwh, stop_kwh):
    # A replaced or reset meter must not produce a negative bill.
    return kwh(max(0.0, stop_kwh - start_kwh))


def cost_of(energy_kwh, price_per_kwh):
    return round(energy_kwh * price_per_kwh, 2)


def new_record(command, meter_kwh):
    """What is persisted at start: enough to bill the session after a reboot.
    meter_kwh None: authorised, waiting for the car."""
    return {
        "session_id": command["session_id"],
        "driver_id": command["driver_id"],
        "price_per_kwh": command["price_per_kwh"],
        "meter_start_kwh": None if meter_kwh is None else kwh(meter_kwh),
        "started_at": unix_time(),
    }


def valid_record(record):
    for name in RECORD_FIELDS:
        if name not in record:
            return False
    start = record["meter_start_kwh"]
    return start is None or isinstance(start, (int, float))


class Session:
    def __init__(self, record):
        self.record = record
        self.session_id = record["session_id"]
        self.low_power_since = None
        self.last_meter_kwh = record["meter_start_kwh"]  # last good reading
        # Set once the session has ended (relay open) while the meter reading
        # that closes the bill is still awaited: (reason, ticks_ms when ended).
        self.ending = None
        # While waiting for the car: since when (ticks_ms) and for how long.
        self.waiting_since = None
        self.connection_timeout_s = None

    @property
    def waiting(self):
        """Authorised, but no car has been plugged in yet (no energy counted)."""
        return self.record["meter_start_kwh"] is None

    def wait_for_vehicle(self, timeout_s):
        self.connection_timeout_s = timeout_s

    def wait_expired(self, now_ms):
        """Checked every tick; the wait counts from the first tick that sees it."""
        if self.waiting_since is None:
            self.waiting_since = now_ms
        return ticks_diff(now_ms, self.waiting_since) >= self.connection_timeout_s * 1000

    def vehicle_plugged_in(self, meter_kwh):
        """The car came: billing starts from this reading (the caller persists it)."""
        self.record["meter_start_kwh"] = kwh(meter_kwh)
        self.record["started_at"] = unix_time()
        self.last_meter_kwh = self.record["meter_start_kwh"]
        self.waiting_since = None

    def energy(self, meter_kwh):
        if self.waiting or meter_kwh is None:
            return 0.0
        return energy_between(self.record["meter_start_kwh"], meter_kwh)

    def car_finished(self, power_kw, now_ms, threshold_kw, hold_s):
        """True once power has stayed below threshold_kw for hold_s seconds."""
        if power_kw >= threshold_kw:
            self.low_power_since = None
            return False
        if self.low_power_since is None:
            self.low_power_since = now_ms
        return ticks_diff(now_ms, self.low_power_since) >= hold_s * 1000

    def charging_data(self, cp_id, reading):
        meter_kwh = kwh(reading.energy_kwh)
        self.last_meter_kwh = meter_kwh
        energy = self.energy(meter_kwh)
        record = self.record
        return evwire.make(
            t.CHARGING_DATA,
            cp_id=cp_id,
            session_id=self.session_id,
            driver_id=record["driver_id"],
            energy_consumed_kwh=energy,
            total_cost=cost_of(energy, record["price_per_kwh"]),
            # The wire refuses negative power and current: a meter reading a
            # little below zero (noise at 0 A, a reversed current transformer)
            # means nothing is being imported, which is what is billed.
            charging_rate=round(max(0.0, reading.power_kw), 2),
            price_per_kwh=record["price_per_kwh"],
            meter_kwh=meter_kwh,
            voltage=round(max(0.0, reading.voltage), 1),
            current=round(max(0.0, reading.current), 2),
            timestamp=unix_time(),
        )

    def completion(self, cp_id, reason, meter_stop_kwh, estimated=False):
        """The one charge_completion of this session (a fresh message_id that
        every re-send keeps)."""
        record = self.record
        meter_stop_kwh = None if self.waiting else kwh(meter_stop_kwh)
        energy = self.energy(meter_stop_kwh)
        now = unix_time()
        msg = evwire.make(
            t.CHARGE_COMPLETION,
            cp_id=cp_id,
            session_id=self.session_id,
            driver_id=record["driver_id"],
            energy_consumed_kwh=energy,
            total_cost=cost_of(energy, record["price_per_kwh"]),
            price_per_kwh=record["price_per_kwh"],
            reason=reason,
            meter_start_kwh=record["meter_start_kwh"],
            meter_stop_kwh=meter_stop_kwh,
            started_at=record["started_at"],
            duration_s=max(0, now - record["started_at"]),
            timestamp=now,
        )
        if estimated:
            msg["meter_estimated"] = True
        return msg
