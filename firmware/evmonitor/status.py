"""What the Monitor knows about its charge point, and the status Central is shown.

Pure state, no I/O: the Station changes it and reports the differences.
Status precedence: FAULTED (Engine failed or unreachable) > STOPPED (operator)
> CHARGING (a session is open) > AVAILABLE.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from evwire import types as t

ENGINE_UNKNOWN = "unknown"  # before the first health answer (start-up grace)
ENGINE_HEALTHY = "healthy"
ENGINE_FAULTED = "faulted"
FAULT_UNREACHABLE = "engine_unreachable"
FAULT_UNSPECIFIED = "engine_fault"


@dataclass
class Session:
    session_id: str
    driver_id: str = ""
    price_per_kwh: float | None = None
    energy_kwh: float = 0.0
    total_cost: float = 0.0
    rate_kw: float = 0.0
    waiting_for_vehicle: bool = False
    samples: int = 0
    updated: float = field(default_factory=time.monotonic)


@dataclass
class ChargePoint:
    cp_id: str
    engine: str = ENGINE_UNKNOWN
    fault_type: str | None = None
    fault_message: str = ""
    operator_stopped: bool = False
    session: Session | None = None

    @property
    def status(self) -> str:
        if self.engine != ENGINE_HEALTHY:
            return t.CP_FAULTED
        if self.operator_stopped:
            return t.CP_STOPPED
        if self.session is not None:
            return t.CP_CHARGING
        return t.CP_AVAILABLE

    @property
    def session_id(self) -> str | None:
        return self.session.session_id if self.session else None

    def engine_ok(self) -> bool:
        """Record a healthy answer; True if this recovers from a reported fault."""
        recovered = self.engine == ENGINE_FAULTED
        self.engine = ENGINE_HEALTHY
        self.fault_type = None
        self.fault_message = ""
        return recovered

    def engine_failed(self, fault_type: str, message: str = "") -> bool:
        """Record a fault; True if it is news (a new fault, or a different kind)."""
        news = self.engine != ENGINE_FAULTED or self.fault_type != fault_type
        self.engine = ENGINE_FAULTED
        self.fault_type = fault_type
        self.fault_message = message
        return news

    def open_session(self, session_id: str, driver_id: str = "",
                     price_per_kwh: float | None = None) -> Session:
        if self.session is None or self.session.session_id != session_id:
            self.session = Session(session_id, driver_id, price_per_kwh)
        return self.session

    def close_session(self, session_id: str) -> bool:
        if self.session is not None and self.session.session_id == session_id:
            self.session = None
            return True
        return False

    def live_data(self, msg: dict) -> None:
        """Update the session's live values from a charging_data message."""
        session = self.open_session(msg["session_id"], msg.get("driver_id", ""),
                                    msg.get("price_per_kwh"))
        session.energy_kwh = float(msg["energy_consumed_kwh"])
        session.total_cost = float(msg["total_cost"])
        session.rate_kw = float(msg["charging_rate"])
        session.waiting_for_vehicle = False
        session.samples += 1
        session.updated = time.monotonic()
