"""The issue's goals (to measure against, not pass/fail) and how a load step is judged."""
from __future__ import annotations

GOAL_CPS = 10_000
GOAL_TELEMETRY_P99_MS = 1000.0
GOAL_REQUEST_P99_MS = 50.0
GOAL_ENGINE_DEATH_S = 2.0
GOAL_ENGINE_HEAP_BYTES = 48 * 1024
GOAL_BUNDLE_BYTES = 60 * 1024
GOAL_STORM_S = 60.0

# A step "clearly fails" (the ramp stops) beyond these; between the goal and
# these it fails but the next N may still tell something.
GIVE_UP_P99_MS = 5000.0
GIVE_UP_LOSS_FRACTION = 0.01


def step_failures(step: dict) -> list[str]:
    """Why a step misses "p99 <= 1 s and zero loss" (empty: it meets it)."""
    if step.get("error"):
        return [f"did not complete: {step['error']}"]
    why = []
    tele = step.get("telemetry") or {}
    p99 = (tele.get("latency") or {}).get("p99_ms")
    if p99 is None:
        why.append("no forwarded record was timed")
    elif p99 > GOAL_TELEMETRY_P99_MS:
        why.append(f"telemetry p99 {p99:.0f} ms > {GOAL_TELEMETRY_P99_MS:.0f} ms")
    if tele.get("lost"):
        why.append(f"{tele['lost']} of {tele['sent']} records lost")
    ramp = step.get("ramp") or {}
    if ramp and ramp.get("accepted") != ramp.get("requested"):
        why.append(f"only {ramp.get('accepted')} of {ramp.get('requested')} sessions started "
                   f"(refused: {ramp.get('refused')})")
    tickets = step.get("tickets") or {}
    if tickets and tickets.get("received") != tickets.get("expected"):
        why.append(f"{tickets['expected'] - tickets['received']} tickets missing")
    return why


def clearly_failed(step: dict) -> bool:
    """Beyond saving: no point ramping further."""
    if step.get("error"):
        return True
    tele = step.get("telemetry") or {}
    p99 = (tele.get("latency") or {}).get("p99_ms")
    sent = tele.get("sent") or 0
    ramp = step.get("ramp") or {}
    return (p99 is None or p99 > GIVE_UP_P99_MS
            or (sent and tele.get("lost", 0) > GIVE_UP_LOSS_FRACTION * sent)
            or ramp.get("accepted", 0) < 0.99 * ramp.get("requested", 0))


def verdict(value: float | None, goal: float, lower_is_better: bool = True) -> str:
    """'met' / 'missed' / 'not measured' for one figure against its goal."""
    if value is None:
        return "not measured"
    ok = value <= goal if lower_is_better else value >= goal
    return "met" if ok else "missed"
