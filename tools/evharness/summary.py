"""The demo's closing report: sessions per driver from Central's database, and
the check that billed energy equals what the virtual meters measured."""
from __future__ import annotations

from collections import Counter

from evharness.billing import MeterCheck, cost_problems, finalised
from evharness.narrative import Narrator


def table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def driver_rows(sessions: list[dict], driver_ids: list[str]) -> list[list[str]]:
    rows = []
    for driver_id in driver_ids:
        mine = finalised([s for s in sessions if s["driver_id"] == driver_id])
        reasons = Counter(s["reason"] or "-" for s in mine)
        rows.append([driver_id, str(len(mine)), f"{sum(s['energy_kwh'] for s in mine):.3f}",
                     f"{sum(s['cost'] for s in mine):.2f}",
                     ", ".join(f"{r} x{n}" if n > 1 else r for r, n in sorted(reasons.items()))])
    return rows


def session_rows(sessions: list[dict]) -> list[list[str]]:
    return [[s["driver_id"], s["cp_id"], s["session_id"][:8], s["status"],
             f"{s['energy_kwh']:.3f}", f"{s['cost']:.2f}", s["reason"] or "-"]
            for s in sessions]


def report(say: Narrator, sessions: list[dict], driver_ids: list[str],
           checks: list[MeterCheck], driver_problems: dict[str, str]) -> bool:
    """Print the tables and the checks; True when billing matches the meters and
    the drivers did their work (a run where nothing was charged proves nothing)."""
    say.plain()
    say.plain("Sessions (from Central's database):")
    say.plain(table(["DRIVER", "CP", "SESSION", "STATUS", "kWh", "EUR", "REASON"],
                    session_rows(sessions), right={4, 5}))
    say.plain()
    say.plain("Per driver:")
    say.plain(table(["DRIVER", "SESSIONS", "kWh", "EUR", "REASONS"],
                    driver_rows(sessions, driver_ids), right={1, 2, 3}))
    say.plain()
    say.plain("Billed energy against the virtual meters (per CP, +-0.001 kWh per session):")
    for check in checks:
        say.plain("  " + say.paint(check.line(), "pass" if check.ok else "fail"))
    problems = cost_problems(sessions)
    for problem in problems:
        say.plain("  " + say.paint(f"cost mismatch: {problem}", "fail"))
    live = [s for s in sessions if not s["finalised"]]
    for s in live:
        say.plain("  " + say.paint(f"session {s['session_id']} on {s['cp_id']} never finalised "
                                   f"(status {s['status']})", "fail"))
    for driver_id, problem in sorted(driver_problems.items()):
        say.plain("  " + say.paint(f"driver {driver_id} did not finish its services file: "
                                   f"{problem}", "fail"))
    if not finalised(sessions):
        say.plain("  " + say.paint("no session was billed at all", "fail"))
    ok = (all(c.ok for c in checks) and not problems and not live and not driver_problems
          and bool(finalised(sessions)))
    say.plain()
    verdict = ("PASS: every kWh the meters measured was billed exactly once" if ok
               else "FAIL: see the lines above")
    say.plain(say.paint(verdict, "pass" if ok else "fail"))
    return ok
