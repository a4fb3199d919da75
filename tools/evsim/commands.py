"""The control channel's commands: one text line in, one JSON-able dict out.

Each command is a method named after it (hyphens become underscores), taking
the rest of the line's words. Every successful reply carries "ok": true and
the whole status, so a script sees the effect of what it just did.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from evsim.model import ChargePointModel

SWITCH_WORDS = {"on": True, "off": False, "1": True, "0": False, "true": True, "false": False}
MAX_CRC_FAULTS = 1_000_000

HELP = {
    "status": "status: the whole state as JSON",
    "plug": "plug: the vehicle is plugged in",
    "unplug": "unplug: the vehicle is unplugged",
    "meter-silent": "meter-silent on|off: the meter stops / resumes answering",
    "crc": "crc N: the next N meter replies carry a bad CRC",
    "weld": "weld on|off: the contactor is stuck closed",
    "dead": "dead on|off: the contactor is stuck open",
    "recover": "recover: clear every fault",
    "soc": "soc X: set the car's state of charge (0..100 %)",
    "power-limit": "power-limit KW: set the charge point's power limit",
    "swipe": "swipe UID: present a card (1..16 printable ASCII characters)",
    "help": "help: this list",
}


class CommandError(Exception):
    """A command the simulator cannot carry out; str() says why."""


def _switch(args: list[str], name: str) -> bool:
    if len(args) != 1 or args[0].lower() not in SWITCH_WORDS:
        raise CommandError(f"usage: {name} on|off")
    return SWITCH_WORDS[args[0].lower()]


def _number(args: list[str], usage: str, low: float, high: float) -> float:
    if len(args) != 1:
        raise CommandError(f"usage: {usage}")
    try:
        value = float(args[0])
    except ValueError:
        raise CommandError(f"usage: {usage} ({args[0]!r} is not a number)") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise CommandError(f"usage: {usage} (must be {low:g}..{high:g})")
    return value


def _no_args(args: list[str], name: str) -> None:
    if args:
        raise CommandError(f"usage: {name} (takes no arguments)")


class ControlCommands:
    def __init__(self, model: ChargePointModel):
        self.model = model

    def execute(self, line: str) -> dict:
        words = line.split()
        if not words:
            return {"ok": False, "error": "empty command (try: help)"}
        name, args = words[0].lower(), words[1:]
        handler: Callable[[list[str]], dict | None] | None = (
            getattr(self, name.replace("-", "_"), None) if name in HELP else None
        )
        if handler is None:
            return {"ok": False, "error": f"unknown command {words[0]!r} (try: help)"}
        try:
            extra = handler(args)
        except CommandError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, **self.model.status(), **(extra or {})}

    def status(self, args: list[str]) -> None:
        _no_args(args, "status")

    def plug(self, args: list[str]) -> None:
        _no_args(args, "plug")
        self.model.plugged = True

    def unplug(self, args: list[str]) -> None:
        _no_args(args, "unplug")
        self.model.plugged = False

    def meter_silent(self, args: list[str]) -> None:
        self.model.meter_silent = _switch(args, "meter-silent")

    def crc(self, args: list[str]) -> None:
        count = _number(args, "crc N", 0, MAX_CRC_FAULTS)
        if count != int(count):
            raise CommandError("usage: crc N (a whole number)")
        self.model.crc_errors_pending = int(count)

    def weld(self, args: list[str]) -> None:
        self.model.welded = _switch(args, "weld")

    def dead(self, args: list[str]) -> None:
        self.model.dead = _switch(args, "dead")

    def recover(self, args: list[str]) -> None:
        _no_args(args, "recover")
        self.model.recover()

    def soc(self, args: list[str]) -> None:
        self.model.soc = _number(args, "soc X", 0.0, 100.0)

    def power_limit(self, args: list[str]) -> None:
        self.model.power_limit_kw = _number(args, "power-limit KW", 0.0, 1000.0)

    def swipe(self, args: list[str]) -> None:
        if len(args) != 1:
            raise CommandError("usage: swipe UID")
        try:
            self.model.swipe(args[0])
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def help(self, args: list[str]) -> dict:
        return {"commands": list(HELP.values())}
