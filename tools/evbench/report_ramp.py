"""The load ramp before and after the optimisations, side by side, per N."""
from __future__ import annotations

COLUMNS = (
    ("telemetry p99 ms", ("telemetry", "latency", "p99_ms")),
    ("telemetry p50 ms", ("telemetry", "latency", "p50_ms")),
    ("lost", ("telemetry", "lost")),
    ("request -> command p99 ms (load)", ("probes", "request_to_command", "p99_ms")),
    ("same, ramp", ("ramp", "request_to_command", "p99_ms")),
    ("heartbeat RTT p99 ms", ("heartbeat_rtt", "p99_ms")),
    ("Central CPU %", ("central", "cpu_percent")),
    ("drain s", ("drain_s",)),
    ("storm s", ("storm", "all_registered_s")),
)


def _pick(step: dict | None, path: tuple[str, ...]):
    node = step
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def compact(step: dict) -> dict:
    """The figures of a step kept in the recorded baseline (same paths as the step)."""
    out: dict = {"cps": step["cps"]}
    for _label, path in COLUMNS:
        value = _pick(step, path)
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def _show(value) -> str:
    return "-" if value is None else f"{value:g}"


def _cell(before, after) -> str:
    return f"{_show(before)} -> {_show(after)}"


def ramp_comparison(before: dict | None, load: dict) -> list[str]:
    lines = ["### Load steps before and after", ""]
    old = {s["cps"]: s for s in (before or {}).get("ramp_steps", [])}
    new = {s["cps"]: s for s in load.get("steps", []) if not s.get("error")}
    shared = sorted(set(old) | set(new))
    if not old:
        return lines + ["No recorded baseline to compare with.", ""]
    lines += ["Recorded before the optimisations (same machine, same load generator) -> "
              "this run:", "",
              "| CPs | " + " | ".join(label for label, _p in COLUMNS) + " |",
              "|---:|" + "---:|" * len(COLUMNS)]
    for n in shared:
        cells = [_cell(_pick(old.get(n), path), _pick(new.get(n), path)) for _l, path in COLUMNS]
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    return lines + [""]
