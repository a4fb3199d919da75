"""evcharge SUBCOMMAND ...: dispatches to each program's own CLI module.

Subcommand modules are imported lazily so that `evcharge driver` does not
pay for Central's imports, and a missing optional dependency only affects
the subcommand that needs it.
"""
from __future__ import annotations

import importlib
import sys

from evhost.cliout import EXIT_INTERRUPTED, CommandError, report

# subcommand -> (module, function, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "engine": ("evengine.cli", "main", "run the Engine firmware (CPython or MicroPython)"),
    "sim-hw": ("evsim.cli", "main", "virtual meter/relay/car on a pseudo-terminal"),
    "monitor": ("evmonitor.cli", "main", "run the Monitor daemon of one charge point"),
    "central": ("evcentral.cli", "main", "run Central, or provision CPs and drivers"),
    "broker": ("evkafka.broker", "main", "run the local Kafka-protocol broker"),
    "admin": ("evcentral.admin_cli", "main", "operator commands against a running Central"),
    "driver": ("evdriver.cli", "main", "the EV driver's client"),
    "mqtt-bridge": ("evmqtt.cli", "main", "charge point state on MQTT, Home Assistant"),
    "demo": ("evharness.demo", "main", "run a whole network on this machine"),
    "chaos": ("evharness.chaos.runner", "main", "random faults on a whole network, checked"),
    "pki": ("evcharge.pki", "main", "a private CA: TLS certificates for Central"),
    "completion": ("evcharge.completion", "main", "shell completion script: bash or zsh"),
}


def usage() -> str:
    lines = ["usage: evcharge SUBCOMMAND [options]", "", "subcommands:"]
    for name, (_m, _f, text) in SUBCOMMANDS.items():
        lines.append(f"  {name:<9} {text}")
    lines.append("")
    lines.append("evcharge SUBCOMMAND --help shows the options of one subcommand.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    entry = SUBCOMMANDS.get(name)
    if entry is None:
        print(f"evcharge: unknown subcommand '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _text = entry
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(f"evcharge {name}: not available ({exc})", file=sys.stderr)
        return 2
    try:
        return int(getattr(module, func_name)(rest) or 0)
    except CommandError as exc:  # the one place a typed failure becomes its line and code
        return report(name, exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
