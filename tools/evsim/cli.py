"""`evcharge sim-hw`: one charge point's virtual meter, relay module, card
reader and car on a pseudo-terminal, or (with --send) one control command."""
from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from evhost.cliargs import non_negative, percent, positive
from evhost.cliout import ConfigProblem, Parser, Refused, Unreachable, UsageError
from evhost.logsetup import add_log_options, setup_logging
from evsim.control import ControlClient, ControlError
from evsim.controlserver import ControlSocketError
from evsim.model import ChargePointModel
from evsim.ptylink import LinkError
from evsim.server import Simulator
from evwire import trace

CONTROL_SUFFIX = ".ctl"






def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="evcharge sim-hw",
        description="Virtual meter (Modbus unit 1), relay module (unit 2), card reader "
        "(unit 3) and car behind a pseudo-terminal; see docs/HARDWARE.md.",
    )
    p.add_argument("--link", type=Path, help="make PATH a symlink to the pty (the Engine opens it)")
    p.add_argument("--control", type=Path, help="control socket (default: LINK.ctl)")
    p.add_argument("--send", metavar="COMMAND",
                   help="send one control command to a running simulator, print its JSON reply")
    p.add_argument("--power-kw", type=non_negative, default=11.0,
                   help="the charge point's power limit in kW (default 11)")
    p.add_argument("--car-max-kw", type=non_negative, default=22.0,
                   help="the car's maximum charging power in kW (default 22)")
    p.add_argument("--battery-kwh", type=positive, default=60.0,
                   help="the car's battery capacity (default 60)")
    p.add_argument("--soc", type=percent, default=20.0,
                   help="initial state of charge in %% (default 20)")
    p.add_argument("--unplugged", action="store_true", help="start with no vehicle plugged in")
    p.add_argument("--time-scale", type=positive, default=1.0,
                   help="simulated seconds per real second (default 1; 60 = a minute a second)")
    p.add_argument("--meter-start", type=non_negative, default=0.0,
                   help="the meter's energy register at start, kWh (default 0)")
    p.add_argument("--voltage", type=positive, default=230.0, help="line voltage (default 230)")
    p.add_argument("--phases", type=int, choices=(1, 3), default=3,
                   help="phases the car draws on (the pilot's offer is A x V x phases)")
    add_log_options(p)  # at debug every Modbus frame
    return p


def parser() -> argparse.ArgumentParser:
    """The options (for `evcharge completion`)."""
    return build_parser()


def send_one(control: Path, command: str) -> int:
    try:
        with ControlClient(control) as client:
            reply = client.command(command)
    except ValueError as exc:  # the command text itself
        raise UsageError(str(exc)) from None
    except ControlError as exc:  # no simulator there, or it went silent
        raise Unreachable(str(exc)) from None
    print(json.dumps(reply), flush=True)  # the reply is the data, refused or not
    if not reply.get("ok"):
        raise Refused(f"the simulator refused '{command}': {reply.get('error', 'no reason')}")
    return 0


class _Stop(Exception):
    pass


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def serve(args: argparse.Namespace, control: Path) -> int:
    setup_logging(args, "sim-hw")
    model = ChargePointModel(
        power_limit_kw=args.power_kw,
        car_max_kw=args.car_max_kw,
        battery_kwh=args.battery_kwh,
        soc=args.soc,
        plugged=not args.unplugged,
        meter_start_kwh=args.meter_start,
        time_scale=args.time_scale,
        voltage=args.voltage,
        phases=args.phases,
    )
    simulator = Simulator(model, args.link, control)

    def ready() -> None:
        print(f"ready link={args.link} control={control}", flush=True)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _raise_stop)
    try:
        simulator.serve(ready, should_stop=lambda: False)
    except _Stop as stop:
        trace.log("info", f"{stop} received")
    except (LinkError, ControlSocketError, OSError) as exc:  # --link/--control paths
        raise ConfigProblem(str(exc)) from None
    return 0


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.send is not None:
        if args.control is None and args.link is None:
            parser.error("--send needs --control PATH (or --link PATH)")
        control = args.control or Path(str(args.link) + CONTROL_SUFFIX)
        return send_one(control, args.send)
    if args.link is None:
        parser.error("--link PATH is required")
    control = args.control or Path(str(args.link) + CONTROL_SUFFIX)
    return serve(args, control)
