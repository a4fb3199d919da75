"""What a benchmark run lost: sessions, records, tickets, from the parts' own reports.

`make bench-smoke` (CI) fails on any of these: at 50 charge points nothing may be
lost, so a loss there is a bug, not a figure. The full run only reports them (at
10,000 charge points a loss is a missed goal, judged in the headline instead).
A count that is missing counts as a loss too: a report that does not say what it
delivered cannot show that nothing was lost.
"""
from __future__ import annotations


def _count(where: dict, key: str) -> int | None:
    value = where.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sent_vs_delivered(what: str, sent: int | None, delivered: int | None) -> list[str]:
    if sent is None or delivered is None:
        return [f"{what}: sent/delivered counts missing from the report"]
    if sent <= 0:
        return [f"{what}: nothing was sent, so no loss could be seen"]
    if delivered < sent:
        return [f"{what}: {sent - delivered} of {sent} lost"]
    return []


def step_losses(step: dict, label: str) -> list[str]:
    """One load step: charge requests that started no session, started sessions whose
    charge point never got the start command, telemetry records and tickets that never
    reached the driver, probe sessions left stuck."""
    if step.get("error") or step.get("heartbeats_only"):
        return []  # a crash is reported as such; heartbeats alone carry nothing to lose
    lost = []
    ramp = step.get("ramp") or {}
    lost += _sent_vs_delivered(f"{label}: sessions requested -> accepted",
                               _count(ramp, "requested"), _count(ramp, "accepted"))
    lost += _sent_vs_delivered(f"{label}: sessions accepted -> charging at the CP",
                               _count(ramp, "accepted"), _count(ramp, "charging"))
    tele = step.get("telemetry") or {}
    lost += _sent_vs_delivered(f"{label}: telemetry records", _count(tele, "sent"),
                               _count(tele, "received"))
    tickets = step.get("tickets") or {}
    lost += _sent_vs_delivered(f"{label}: tickets", _count(tickets, "expected"),
                               _count(tickets, "received"))
    stuck = _count(step.get("probes") or {}, "stuck")
    if stuck:
        lost.append(f"{label}: {stuck} probe sessions without a start command or a ticket")
    return lost


def run_losses(data: dict) -> list[str]:
    """Every loss of a bench_all run (the parts' JSON under their names)."""
    lost = []
    load = data.get("load") or {}
    if not load.get("error"):
        steps = load.get("steps") or []
        if not steps:
            lost.append("load: no step ran, so no loss could be seen")
        for step in steps:
            lost += step_losses(step, f"load step of {step.get('cps')} CPs")
        profiled = (load.get("profile") or {}).get("step")
        if profiled:
            lost += step_losses(profiled, f"profiled step of {profiled.get('cps')} CPs")
    monitor = data.get("monitor") or {}
    if not monitor.get("error"):
        through = (monitor.get("outbox") or {}).get("through_monitor") or {}
        for phase in ("replay", "live"):
            counts = through.get(phase) or {}
            lost += _sent_vs_delivered(f"monitor outbox {phase}: records to Kafka",
                                       _count(counts, "sent"), _count(counts, "delivered"))
    return lost
