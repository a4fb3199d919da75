# One charging session: its persisted record, billing from meter deltas, the
# "car finished" detector, and the messages it produces. Energy is always the
# meter reading now minus the reading at start (never a running sum), so a
# missed tick or a reboot loses nothing: the meter kept counting.
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
    """What is persisted at start: enough to bill the session after a reboot."""
    return {
        "session_id": command["session_id"],
        "driver_id": command["driver_id"],
        "price_per_kwh": command["price_per_kwh"],
        "meter_start_kwh": kwh(meter_kwh),
        "started_at": unix_time(),
    }


def valid_record(record):
    for name in RECORD_FIELDS:
        if name not in record:
            return False
    return isinstance(record["meter_start_kwh"], (int, float))


class Session:
    def __init__(self, record):
        self.record = record
        self.session_id = record["session_id"]
        self.low_power_since = None
        self.last_meter_kwh = record["meter_start_kwh"]  # last good reading
        # Set once the session has ended (relay open) while the meter reading
        # that closes the bill is still awaited: (reason, ticks_ms when ended).
        self.ending = None

    def energy(self, meter_kwh):
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
            charging_rate=round(reading.power_kw, 2),
            price_per_kwh=record["price_per_kwh"],
            meter_kwh=meter_kwh,
            voltage=round(reading.voltage, 1),
            current=round(reading.current, 2),
            timestamp=unix_time(),
        )

    def completion(self, cp_id, reason, meter_stop_kwh, estimated=False):
        """The one charge_completion of this session (a fresh message_id that
        every re-send keeps)."""
        record = self.record
        meter_stop_kwh = kwh(meter_stop_kwh)
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
