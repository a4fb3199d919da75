"""What must hold after a chaos case has settled, each check a name, a verdict and why.

- one_record: every session that started has exactly one final record in Central's DB
  (no row left open, no session id twice, every session a driver was told of is there)
- energy: billed energy = the virtual meter's delta, per CP (one session per CP a case,
  so per session), +-0.001 kWh a session
- cost: cost = energy x the agreed price, to the cent
- tickets: each driver got exactly one ticket per session (its --json output and the
  `history` it runs at the end, where tickets shown while it was away appear), or a
  failed start and then at most one correction of it, the last matching the bill
- exercised: at least one session started (else the case tested nothing: a runner check)
- cp_states: every CP AVAILABLE at Central after settling
- no_leftovers: no process (nor process group) of the case still running after close
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from evharness import billing

ENERGY_TOLERANCE_KWH = billing.ENERGY_TOLERANCE_KWH
COST_TOLERANCE = 0.005 + 1e-9  # the brief's +-0.005 (cost is rounded to the cent)
NAMES = ("exercised", "one_record", "energy", "cost", "tickets", "cp_states", "no_leftovers")


@dataclass
class Verdict:
    name: str
    ok: bool
    detail: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def exercised(rows: list[dict]) -> Verdict:
    """Not a property of the system: a case where no session started tested nothing."""
    return Verdict("exercised", bool(rows), "" if rows else "no session started at all")


def one_record(rows: list[dict], accepted: set[str]) -> Verdict:
    problems = []
    counts = Counter(r["session_id"] for r in rows)
    problems += [f"session {sid} has {n} rows" for sid, n in counts.items() if n > 1]
    problems += [f"session {r['session_id']} on {r['cp_id']} not finalised "
                 f"(status {r.get('status')})" for r in rows if not r["finalised"]]
    problems += [f"session {sid} accepted by Central has no row" for sid in
                 sorted(accepted - set(counts))]
    return Verdict("one_record", not problems, "; ".join(problems) or f"{len(rows)} session(s)")


def energy(rows: list[dict], meter_before: dict[str, float],
           meter_after: dict[str, float]) -> Verdict:
    problems = []
    for check in billing.meter_checks(rows, meter_before, meter_after):
        if not check.ok:
            problems.append(check.line())
    total = sum(r["energy_kwh"] for r in rows if r["finalised"])
    return Verdict("energy", not problems, "; ".join(problems) or f"{total:.3f} kWh billed")


def cost(rows: list[dict]) -> Verdict:
    problems = [f"session {r['session_id']}: cost {r['cost']} != {r['energy_kwh']} kWh x "
                f"{r['price_per_kwh']}" for r in rows if r["finalised"]
                and abs(r["cost"] - r["energy_kwh"] * r["price_per_kwh"]) > COST_TOLERANCE]
    return Verdict("cost", not problems, "; ".join(problems))


def tickets(rows: list[dict], events_by_driver: dict[str, list[dict]]) -> Verdict:
    problems = []
    for r in rows:
        if not r["finalised"] or not r.get("driver_id"):
            continue
        shown = [e for e in events_by_driver.get(r["driver_id"], [])
                 if e.get("event") == "ticket" and e.get("session_id") == r["session_id"]]
        # A ticket that corrects a failed start replaces it (evdriver.tickets): the
        # driver holds the last one, and it must match the bill.
        first = [e for e in shown if not e.get("corrects_earlier")]
        if len(first) != 1 or len(shown) - len(first) > 1:
            problems.append(f"{r['driver_id']} saw {len(shown)} ticket(s) for session "
                            f"{r['session_id']} on {r['cp_id']} ({r.get('reason')})")
        elif abs(shown[-1]["energy_kwh"] - r["energy_kwh"]) > ENERGY_TOLERANCE_KWH:
            problems.append(f"ticket of {r['session_id']}: {shown[-1]['energy_kwh']} kWh, "
                            f"billed {r['energy_kwh']}")
    return Verdict("tickets", not problems, "; ".join(problems))


def cp_states(states: dict[str, str] | None, cp_ids: list[str]) -> Verdict:
    if states is None:
        return Verdict("cp_states", False, "Central did not answer")
    wrong = {cp: states.get(cp) for cp in cp_ids if states.get(cp) != "AVAILABLE"}
    return Verdict("cp_states", not wrong, ", ".join(f"{cp} {s}" for cp, s in wrong.items()))


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def no_leftovers(procs: list[tuple[str, int, bool]]) -> Verdict:
    """procs: (name, pid, still running); a process group with any member counts too."""
    left = [f"{name} (pid {pid})" for name, pid, running in procs
            if running or group_alive(pid)]
    return Verdict("no_leftovers", not left, ", ".join(left))
