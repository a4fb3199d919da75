"""Does what Central billed match what the meters measured? (demo and tests)

The virtual meter is the independent witness: its total energy register is
read through the simulator's control channel before and after, and the
energy of every finalised session on that CP must add up to the difference.
"""
from __future__ import annotations

from dataclasses import dataclass

ENERGY_TOLERANCE_KWH = 0.001   # per session: the wire carries kWh with 3 decimals
COST_TOLERANCE = 0.006         # to the cent (cost is rounded to 2 decimals)


@dataclass
class MeterCheck:
    cp_id: str
    sessions: int
    billed_kwh: float
    meter_delta_kwh: float

    @property
    def tolerance(self) -> float:
        return ENERGY_TOLERANCE_KWH * max(1, self.sessions)

    @property
    def ok(self) -> bool:
        return abs(self.billed_kwh - self.meter_delta_kwh) <= self.tolerance

    def line(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        return (f"{self.cp_id}: {self.sessions} session(s) billed {self.billed_kwh:.3f} kWh, "
                f"meter measured {self.meter_delta_kwh:.3f} kWh "
                f"(tolerance {self.tolerance:.3f}) {verdict}")


def finalised(sessions: list[dict], cp_id: str | None = None) -> list[dict]:
    return [s for s in sessions if s["finalised"] and (cp_id is None or s["cp_id"] == cp_id)]


def meter_checks(sessions: list[dict], meter_before: dict[str, float],
                 meter_after: dict[str, float]) -> list[MeterCheck]:
    checks = []
    for cp_id in sorted(meter_before):
        done = finalised(sessions, cp_id)
        checks.append(MeterCheck(cp_id, len(done), sum(s["energy_kwh"] for s in done),
                                 meter_after[cp_id] - meter_before[cp_id]))
    return checks


def cost_matches(session: dict) -> bool:
    """cost = energy x price, to the cent."""
    expected = session["energy_kwh"] * session["price_per_kwh"]
    return abs(session["cost"] - expected) <= COST_TOLERANCE


def cost_problems(sessions: list[dict]) -> list[str]:
    return [f"session {s['session_id']} on {s['cp_id']}: cost {s['cost']:.2f} != "
            f"{s['energy_kwh']:.3f} kWh x {s['price_per_kwh']}"
            for s in finalised(sessions) if not cost_matches(s)]
