"""What the driver shows, independent of how (render.py): progress, tickets, results."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from evwire import types as t

REASON_TEXT = {
    t.REASON_STOPPED: "stopped on request",
    t.REASON_EV_FULL: "the car is full",
    t.REASON_UNPLUGGED: "the car was unplugged",
    t.REASON_FAULT: "the charge point failed",
    t.REASON_MONITOR_LOST: "the charge point lost its monitor",
    t.REASON_NO_VEHICLE: "no car was plugged in in time",
    t.REASON_CP_STOPPED: "an operator took the charge point out of service",
    t.REASON_START_FAILED: "the charge point could not start",
    t.REASON_CLOSED_BY_OPERATOR: "closed by an operator",
}


# Sessions that ended before the car took any energy: no charging time to show.
NEVER_CHARGED = (t.REASON_NO_VEHICLE, t.REASON_START_FAILED)


def describe_reason(reason: str | None) -> str:
    if not reason:
        return "finished"
    return REASON_TEXT.get(reason, reason)


@dataclass
class Progress:
    session_id: str
    cp_id: str
    energy_kwh: float
    rate_kw: float
    cost: float
    elapsed_s: float
    progress: int | None  # % of the driver's own target (--kwh or --minutes); None: no target
    limit_kw: float | None = None  # the site's share for this CP; None: not load managed


def target_percent(energy_kwh: float, charging_s: float, kwh: float | None,
                   minutes: float | None) -> int | None:
    """How far towards the target the driver asked for: --kwh by energy, --minutes
    by charging time. No target, no percentage (a battery size is not known)."""
    if kwh is not None:
        share = energy_kwh / kwh
    elif minutes is not None:
        share = charging_s / (minutes * 60)
    else:
        return None
    # Rounded before truncating: 0.15 / 0.2 is 0.7499999... in floating point, not 75 %.
    return max(0, min(100, int(round(share * 100, 6))))


@dataclass
class Ticket:
    session_id: str
    cp_id: str
    energy_kwh: float
    cost: float
    duration_s: float | None
    reason: str
    price_per_kwh: float | None = None
    # Replaces the failed-start ticket shown earlier: the charge point charged after all.
    corrects_earlier: bool = False

    @classmethod
    def from_completion(cls, msg: dict, local_duration_s: float | None = None) -> Ticket:
        """Build from a charge_completion. The duration is the charging time, counted
        from the moment charging started (the car plugged in and the relay closed),
        as the live view counts it: the Engine's duration_s (from plug-in) first,
        else the time this driver saw the session charge, else Central's
        started_at..timestamp. A session that never charged has none (None)."""
        duration = msg.get("duration_s")
        if duration is None:
            duration = local_duration_s
        if duration is None and msg.get("started_at") and msg.get("timestamp"):
            duration = max(0, msg["timestamp"] - msg["started_at"])
        # The Engine reports no meter stop for a session still waiting for its car.
        never_charged = msg.get("reason") in NEVER_CHARGED or (
            "meter_stop_kwh" in msg and msg["meter_stop_kwh"] is None)
        if never_charged and not float(msg["energy_consumed_kwh"]):
            duration = None
        return cls(session_id=msg["session_id"], cp_id=msg["cp_id"],
                   energy_kwh=float(msg["energy_consumed_kwh"]), cost=float(msg["total_cost"]),
                   duration_s=duration, reason=msg.get("reason") or "",
                   price_per_kwh=msg.get("price_per_kwh"))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ServiceResult:
    """One charge (a `charge` command, or one line of a `run` file)."""

    cp_id: str
    ok: bool
    ticket: Ticket | None = None
    refusal: str = ""
    interrupted: bool = False
    refused: bool = False  # Central said no (rather than the charge point failing)

    def as_dict(self) -> dict:
        out = {"cp_id": self.cp_id, "ok": self.ok, "refusal": self.refusal or None,
               "interrupted": self.interrupted}
        out["ticket"] = self.ticket.as_dict() if self.ticket else None
        return out
