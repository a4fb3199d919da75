"""Reading OCPP 1.6 MeterValues: the energy register and the power, in our units.

sampledValue.value is a decimal string; unit defaults to Wh for energy and W
for power (OCPP 1.6, 7.31 / 7.45). A value that is not a finite number, is
negative, or is past our ranges is dropped: one bad sample costs that sample.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
MAX_KWH = 10_000_000.0  # evwire's kwh range
MAX_KW = 10_000.0  # evwire's kw range
ENERGY_SCALE = {"Wh": 0.001, "kWh": 1.0}
POWER_SCALE = {"W": 0.001, "kW": 1.0}


def _number(text: object) -> float | None:
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def read(meter_values: list[dict]) -> tuple[float | None, float | None]:
    """(energy register kWh, power kW) of the latest samples; None when absent."""
    energy = power = None
    for meter_value in meter_values:
        for sample in meter_value.get("sampled_value") or []:
            measurand = sample.get("measurand") or ENERGY  # the spec's default measurand
            if sample.get("phase"):
                continue  # per-phase values: the totals are what we bill and show
            number = _number(sample.get("value"))
            if number is None:
                continue
            if measurand == ENERGY:
                scale = ENERGY_SCALE.get(sample.get("unit") or "Wh")
                if scale is not None and number * scale <= MAX_KWH:
                    energy = number * scale
            elif measurand == POWER:
                scale = POWER_SCALE.get(sample.get("unit") or "W")
                if scale is not None and number * scale <= MAX_KW:
                    power = number * scale
    return energy, power


def unix_of(iso: str) -> int | None:
    """Seconds since the epoch of an OCPP dateTime (ISO 8601); None if unreadable."""
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
