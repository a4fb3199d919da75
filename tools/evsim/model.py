"""The physical side of one charge point: supply, contactor, car, meter, card reader.

The model knows nothing about Modbus; the devices in `evsim.devices` read and
switch it. Faults (a silent meter, corrupted CRCs, a welded or dead
contactor) live here too, so `status` can report them.
"""
from __future__ import annotations

TAPER_START_SOC = 80.0
# Below this fraction of full power the linear taper stops shrinking, so the
# car actually reaches 100 % (and then draws nothing) instead of creeping
# towards it forever.
TAPER_FLOOR = 0.02
UID_MAX_CHARS = 16
PILOT_OFF = 1000  # duty in tenths of a percent: 100 % = no charging offered


def pilot_amps(duty: int) -> float:
    """The current per phase a pilot duty cycle offers (IEC 61851-1 table A.8):
    10-85 %: duty x 0.6 A; 85-96 %: (duty - 64) x 2.5 A; anything else: none."""
    percent = duty / 10.0
    if 10.0 <= percent <= 85.0:
        return percent * 0.6
    if 85.0 < percent <= 96.0:
        return min((percent - 64.0) * 2.5, 80.0)
    return 0.0


class ChargePointModel:
    def __init__(
        self,
        *,
        power_limit_kw: float = 11.0,
        car_max_kw: float = 22.0,
        battery_kwh: float = 60.0,
        soc: float = 20.0,
        plugged: bool = True,
        meter_start_kwh: float = 0.0,
        time_scale: float = 1.0,
        voltage: float = 230.0,
        phases: int = 3,
    ):
        self.power_limit_kw = power_limit_kw
        self.car_max_kw = car_max_kw
        self.battery_kwh = battery_kwh
        self.soc = soc
        self.plugged = plugged
        self.meter_kwh = meter_start_kwh
        self.time_scale = time_scale
        self.voltage = voltage
        self.phases = phases
        # The EVSE's control pilot, tenths of a percent; None until the Engine
        # first writes it (an Engine without a pilot: the car takes its max).
        self.pilot_duty: int | None = None
        self.coil_on = False  # what the relay module was last told
        self.welded = False  # contacts stuck closed
        self.dead = False  # contacts stuck open (coil or driver failed)
        self.meter_silent = False
        self.crc_errors_pending = 0
        self.swipes = 0
        self.last_uid = ""

    # -- contactor ---------------------------------------------------------

    @property
    def relay_closed(self) -> bool:
        """The contacts' real state (what the auxiliary contact reports)."""
        if self.welded:
            return True
        if self.dead:
            return False
        return self.coil_on

    # -- car and meter -----------------------------------------------------

    @property
    def full(self) -> bool:
        return self.soc >= 100.0

    def power_kw(self) -> float:
        """What the car draws now: only plugged in, contacts closed, not full."""
        if not (self.plugged and self.relay_closed) or self.full:
            return 0.0
        power = min(self.power_limit_kw, self.car_max_kw, self.pilot_offer_kw())
        if self.soc > TAPER_START_SOC:
            fraction = (100.0 - self.soc) / (100.0 - TAPER_START_SOC)
            power *= max(fraction, TAPER_FLOOR)
        return power

    def pilot_offer_kw(self) -> float:
        """What the pilot lets the car draw: A x V x phases."""
        if self.pilot_duty is None:
            return float("inf")
        return pilot_amps(self.pilot_duty) * self.voltage * self.phases / 1000.0

    def current_a(self) -> float:
        return self.power_kw() * 1000.0 / self.voltage if self.voltage else 0.0

    def advance(self, dt_s: float) -> float:
        """Let dt_s seconds of wall time pass; returns the kWh delivered."""
        power = self.power_kw()
        if power <= 0.0 or dt_s <= 0.0:
            return 0.0
        room_kwh = (100.0 - self.soc) / 100.0 * self.battery_kwh
        kwh = min(power * dt_s / 3600.0 * self.time_scale, room_kwh)
        self.meter_kwh += kwh
        self.soc = min(100.0, self.soc + kwh / self.battery_kwh * 100.0)
        if room_kwh - kwh <= 1e-9:
            self.soc = 100.0
        return kwh

    # -- card reader -------------------------------------------------------

    def swipe(self, uid: str) -> None:
        if not uid or len(uid) > UID_MAX_CHARS:
            raise ValueError(f"card UID must be 1..{UID_MAX_CHARS} characters")
        if not all(0x21 <= ord(c) <= 0x7E for c in uid):
            raise ValueError("card UID must be printable ASCII without spaces")
        self.last_uid = uid
        self.swipes = (self.swipes + 1) & 0xFFFF

    # -- faults ------------------------------------------------------------

    def recover(self) -> None:
        self.welded = False
        self.dead = False
        self.meter_silent = False
        self.crc_errors_pending = 0

    def status(self) -> dict:
        return {
            "plugged": self.plugged,
            "relay_closed": self.relay_closed,
            "coil_on": self.coil_on,
            "welded": self.welded,
            "dead": self.dead,
            "meter_kwh": self.meter_kwh,
            "power_kw": self.power_kw(),
            "voltage": self.voltage,
            "current_a": self.current_a(),
            "soc": self.soc,
            "battery_kwh": self.battery_kwh,
            "power_limit_kw": self.power_limit_kw,
            "car_max_kw": self.car_max_kw,
            "phases": self.phases,
            "pilot_duty": self.pilot_duty,
            "pilot_amps": None if self.pilot_duty is None else pilot_amps(self.pilot_duty),
            "time_scale": self.time_scale,
            "meter_silent": self.meter_silent,
            "crc_errors_pending": self.crc_errors_pending,
            "swipes": self.swipes,
            "last_uid": self.last_uid,
        }
