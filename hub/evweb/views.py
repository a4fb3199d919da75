"""The JSON the API and the live feed show: a charge point, a session."""
from __future__ import annotations

from evcentral.config import Hub
from evcentral.registry import ChargePoint
from evcentral.session_store import Session
from evweb.validate import finite


def cp_json(hub: Hub, cp: ChargePoint) -> dict:
    """The issue's names: state, location, price_per_kwh, max_kw, and while a session is
    on the CP its session_id, driver_id, power_kw, energy_kwh, cost."""
    registry = hub.registry
    row = {
        "cp_id": cp.cp_id,
        "state": registry.status_of(cp),
        "location": cp.location,
        "price_per_kwh": registry.price_of(cp),
        "max_kw": cp.max_kw,
        "stop_reason": cp.stop_reason,
        "fault_type": cp.fault_type,
    }
    s = cp.session
    if s is not None:
        row.update(session_id=s.session_id, driver_id=s.driver_id, session_status=s.status,
                   power_kw=round(finite(s.rate_kw), 2),
                   energy_kwh=round(finite(s.energy_kwh), 3), cost=round(finite(s.cost), 2),
                   waiting_for_vehicle=cp.waiting_for_vehicle == s.session_id)
    return row


def session_json(session: Session) -> dict:
    """The session's summary (as `admin sessions` shows it); a finalised one is its ticket."""
    row = session.summary()
    row["finalised"] = session.finalised
    return row
