"""`run FILE`: one service after another from a file of charge point ids.

The file has one CP id per line; blank lines and `#` comments are ignored.
Each service is a full charge (limited by --kwh/--minutes, else until the car
finishes), shown step by step, with a pause between services (4 s, as in the
original assignment). A refused service is reported and the run goes on; a
Ctrl-C that stops a service ends the run after that service's ticket.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from evdriver.context import DriverContext
from evdriver.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ConfigProblem, DriverExit
from evdriver.model import ServiceResult
from evdriver.session import Limits, charge_once

CP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def read_services(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigProblem(f"cannot read services file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigProblem(f"services file {path} is not text") from exc
    cps = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if not CP_ID.match(entry):
            raise ConfigProblem(f"{path}, line {number}: '{entry}' is not a charge point id "
                             "(one id per line)")
        cps.append(entry)
    if not cps:
        raise ConfigProblem(f"services file {path} names no charge point")
    return cps


def run_services(ctx: DriverContext, cps: list[str], limits: Limits, pause: float) -> int:
    results: list[ServiceResult] = []
    try:
        for number, cp_id in enumerate(cps, 1):
            if number > 1:
                time.sleep(pause)
            ctx.output.service_start(number, len(cps), cp_id)
            result = charge_once(ctx, cp_id, limits)
            if not result.ok:
                ctx.output.status("refused", cp_id, "", f"refused: {result.refusal}")
            results.append(result)
            if result.interrupted:
                break
    except KeyboardInterrupt:
        _finish(ctx, cps, results, "interrupted")
        ctx.output.result({"result": "interrupted", "services": len(cps),
                           "services_done": sum(1 for r in results if r.ok)})
        return EXIT_INTERRUPTED
    except DriverExit as exc:
        _finish(ctx, cps, results, str(exc))
        raise
    cut_short = _finish(ctx, cps, results, None)
    done = sum(1 for r in results if r.ok)
    outcome = "interrupted" if cut_short else ("ok" if done == len(cps) else "partial")
    ctx.output.result({"result": outcome, "services": len(cps), "services_done": done})
    if cut_short:
        return EXIT_INTERRUPTED
    return EXIT_OK if done == len(cps) else EXIT_FAILED


def _finish(ctx: DriverContext, cps: list[str], results: list[ServiceResult],
            ended_by: str | None) -> bool:
    """Show the summary (services not reached count as skipped); True if the run was cut short."""
    cut_short = ended_by is not None or any(r.interrupted for r in results)
    skipped = [ServiceResult(cp, ok=False, refusal="skipped", interrupted=True)
               for cp in cps[len(results):]]
    ctx.output.summary(results + skipped)
    return cut_short
