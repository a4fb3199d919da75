"""What Central bills, by its own arithmetic: the CP's figures are compared, never trusted.

The cost is energy x the price Central agreed when the session opened. The energy
is the CP's (Central has no meter of its own) but must fit the CP's power: more
than max_kw x the session's duration (with a tolerance for clocks and meters)
marks the session disputed instead of billing it.
"""
from __future__ import annotations

from evcentral.session_store import STATUS_DISPUTED, Session
from evwire import dumps

# Tolerances of the energy check: a meter may read a little high, and the session's
# duration is measured on Central's clock from the start request (not the CP's).
POWER_TOLERANCE = 1.10
ENERGY_SLACK_KWH = 0.05
CLOCK_SLACK_S = 30.0
COST_EPSILON = 0.005  # half a cent: rounding, not a disagreement


def central_cost(energy_kwh: float, price_per_kwh: float) -> float:
    return round(energy_kwh * price_per_kwh, 2)


def allowed_energy(max_kw: float, duration_s: float, time_scale: float = 1.0) -> float:
    """The most energy max_kw can deliver in duration_s (time_scale: simulated
    seconds per real second of virtual hardware, 1 for real chargers)."""
    hours = (max(0.0, duration_s) + CLOCK_SLACK_S) * time_scale / 3600.0
    return max_kw * hours * POWER_TOLERANCE + ENERGY_SLACK_KWH


def energy_dispute(energy_kwh: float, max_kw: float, duration_s: float,
                   time_scale: float = 1.0) -> str | None:
    """Why energy_kwh cannot be billed as is, or None when the CP's power explains it."""
    allowed = allowed_energy(max_kw, duration_s, time_scale)
    if energy_kwh <= allowed:
        return None
    return (f"{energy_kwh:.3f} kWh reported, but {max_kw:g} kW for {duration_s:.0f} s "
            f"allows at most {allowed:.3f} kWh")


def cost_difference(cp_cost: float, cost: float) -> float | None:
    """The CP's total_cost minus Central's, or None when they agree."""
    diff = round(cp_cost - cost, 2)
    return diff if abs(cp_cost - cost) > COST_EPSILON else None


def completion_ticket(msg: dict, final: Session) -> bytes:
    """The driver's ticket: the CP's completion with Central's cost (its own `mac`
    dropped: Central vouches for the ticket). A disputed session's ticket bills
    nothing and says reason `disputed`; an operator settles it by hand."""
    ticket = {k: v for k, v in msg.items() if k != "mac"}
    ticket["total_cost"] = round(final.cost, 2)
    ticket["price_per_kwh"] = final.price_per_kwh
    if final.dispute_reason:
        ticket["reason"] = STATUS_DISPUTED
    return dumps(ticket)
