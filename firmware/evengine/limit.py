# The site's power limit at this charge point (set_charging_limit) and the
# control pilot that enforces it (IEC 61851-1): kW -> current per phase ->
# PWM duty cycle. A limit is kept for hold_s seconds; without a renewal
# (Central or the Monitor gone) the Engine falls back to its configured
# safe limit. A CP that never got a limit is not load managed: only the
# session's max_charging_rate_kw bounds it.
#
# Persisted in the state store as {"limit_kw": kW, "until": unix time}, but
# only when the limit changes or its persisted expiry is half used up, so a
# renewal every few seconds does not write flash every few seconds.
from evwire.compat import unix_time

MIN_A = 6  # below this no EV may charge: the pilot offers nothing
MAX_PILOT_A = 51  # duty % = A / 0.6 holds from 6 to 51 A (10 % .. 85 %)
DUTY_OFF = 1000  # tenths of a percent: 100 % = no charging offered


def amps_for(kw, config):
    """The current per phase `kw` allows, clamped to the EVSE; 0 below 6 A."""
    amps = kw * 1000.0 / (config["nominal_voltage"] * config["phases"])
    amps = min(amps, config["max_current_a"], MAX_PILOT_A)
    return amps if amps >= MIN_A else 0


def duty_for(amps):
    """Pilot duty cycle in tenths of a percent (rounded down: never offer more)."""
    if amps < MIN_A:
        return DUTY_OFF
    return int(amps * 100 / 6)


def kw_for(amps, config):
    return amps * config["nominal_voltage"] * config["phases"] / 1000.0


class ChargingLimit:
    def __init__(self, config):
        self.config = config
        self.limit_kw = None  # None: never told, not load managed
        self.until = 0  # unix time the limit holds to without a renewal
        self.saved_until = 0  # the expiry last written to the store

    def restore(self, saved):
        """The persisted limit, from the store (None or a damaged one: none)."""
        if not isinstance(saved, dict):
            return
        kw = saved.get("limit_kw")
        until = saved.get("until")
        if isinstance(kw, (int, float)) and isinstance(until, (int, float)) and 0 <= kw <= 1000:
            self.limit_kw = kw
            self.until = self.saved_until = until

    def record(self):
        if self.limit_kw is None:
            return None
        return {"limit_kw": self.limit_kw, "until": self.until}

    def set(self, kw, hold_s, now=None):
        """A new or renewed limit; returns whether the store must be written."""
        now = unix_time() if now is None else now
        changed = kw != self.limit_kw
        self.limit_kw = kw
        self.until = now + hold_s
        if changed or self.saved_until - now < hold_s / 2:
            self.saved_until = self.until
            return True
        return False

    def held(self, now=None):
        now = unix_time() if now is None else now
        return self.limit_kw is not None and now < self.until

    def effective_kw(self, now=None):
        """The site limit in force: Central's while held, else the safe limit
        (None: not load managed)."""
        if self.limit_kw is None:
            return None
        if self.held(now):
            return self.limit_kw
        return self.config["safe_limit_kw"]

    def offer(self, charging, session_kw, now=None):
        """(amps per phase, duty tenths of %, kW offered): nothing without a
        charging session; else the least of the session's own maximum
        (session_kw, None: none), the site limit and the EVSE's current."""
        if not charging:
            return 0, DUTY_OFF, 0.0
        kw = 1000.0 if session_kw is None else session_kw
        site = self.effective_kw(now)
        if site is not None and site < kw:
            kw = site
        amps = amps_for(kw, self.config)
        return amps, duty_for(amps), round(kw_for(amps, self.config), 2)
