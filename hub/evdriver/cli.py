"""evcharge driver: the EV driver's client (list, charge, stop, history, run, watch).

Exit codes (evhost.cliout): 0 ok; 1 failed (the charge point could not start, a
service of `run` failed); 2 usage; 3 unreachable (Central, also mid-session, or
Kafka when a session must be followed); 4 Central refused; 5 config (secret,
CA, Kafka config, state dir, services file); 130 interrupted. Errors are raised
as cliout's typed errors: hub/evcharge/cli.py prints the one line. See
docs/DRIVER.md.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import ssl
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import NoReturn

from evdriver.commands import cmd_charge, cmd_history, cmd_list, cmd_stop, cmd_watch
from evdriver.context import DriverContext, Settings
from evdriver.errors import ConfigProblem, DriverExit, Interrupted
from evdriver.logsink import kafka_logger, open_log
from evdriver.render import JsonOutput, TextOutput, clean
from evdriver.services import read_services, run_services
from evdriver.session import Limits
from evdriver.tickets import default_state_dir
from evhost.cliargs import count, non_negative, positive
from evhost.cliout import EXIT_USAGE, Parser, error_line
from evhost.logsetup import ENV_LOG_FORMAT, ENV_LOG_LEVEL, FORMATS, LEVELS, env_choice
from evhost.secretfile import SecretFileError, check_secret, read_secret_file
from evhost.tlsclient import TLSClientError, client_context
from evkafka import properties
from evkafka.broker import DEFAULT_LOCAL_BROKER, parse_hostport
from evkafka.client import use_security
from evkafka.properties import KafkaConfigError
from evwire import trace

DRIVER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ENV_CENTRAL = "EVCHARGE_CENTRAL"
ENV_KAFKA = "EVCHARGE_KAFKA"
ENV_DRIVER = "EVCHARGE_DRIVER_ID"
ENV_SECRET = "EVCHARGE_DRIVER_SECRET"  # noqa: S105 - the variable's name, not a secret

# command -> (function, needs the event stream)
COMMANDS = {
    "list": (cmd_list, False),
    "charge": (cmd_charge, True),
    "stop": (cmd_stop, False),
    "history": (cmd_history, False),
    "watch": (cmd_watch, True),
}


class DriverParser(Parser):
    """cliout.Parser whose subcommands' errors also read `evcharge driver: error: ...`
    (argparse would name the subparser: `evcharge driver charge: error: ...`)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, error_line("driver", message) + "\n")


def add_connection_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The same options before or after the command; only the main parser sets defaults."""

    def d(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--id", dest="driver_id", default=d(os.environ.get(ENV_DRIVER)),
                        help=f"driver id (or ${ENV_DRIVER})")
    parser.add_argument("--secret-file", metavar="F", default=d(None),
                        help=f"file (mode 0600) holding the driver's secret (or ${ENV_SECRET}; "
                             "never on the command line)")
    parser.add_argument("--central", default=d(os.environ.get(ENV_CENTRAL)),
                        help=f"Central's address HOST:PORT, or several HOST:PORT,HOST:PORT "
                             f"tried in turn (or ${ENV_CENTRAL})")
    parser.add_argument("--kafka", default=d(os.environ.get(ENV_KAFKA, DEFAULT_LOCAL_BROKER)),
                        help=f"Kafka bootstrap HOST:PORT (or ${ENV_KAFKA}; "
                             f"default {DEFAULT_LOCAL_BROKER})")
    parser.add_argument("--ca", metavar="PEM", default=d(None),
                        help="speak TLS to Central, verifying its certificate against this CA")
    parser.add_argument("--kafka-config", metavar="FILE", default=d(None),
                        help="librdkafka security properties (key=value: security.protocol, "
                             "sasl.*, ssl.*) for Kafka, e.g. SASL_SSL with SCRAM")
    parser.add_argument("--json", action="store_true", default=d(False),
                        help="one JSON object per line, for scripts")
    parser.add_argument("--state-dir", type=Path, default=d(None),
                        help="where shown tickets are remembered (default "
                             "$XDG_STATE_HOME/evcharge or ~/.local/state/evcharge)")
    parser.add_argument("--timeout", type=positive, default=d(10.0),
                        help="seconds to wait for an answer from Central (default 10)")
    parser.add_argument("--reconnect-grace", type=positive, default=d(30.0),
                        help="seconds without Central or Kafka mid-session before giving up "
                             "with exit 4 (default 30)")
    parser.add_argument("-v", "--verbose", action="store_true", default=d(False),
                        help="log lines (every message in and out) on stderr instead of the "
                             "log file in the state directory")
    # The shared logging options (evhost.logsetup), with this parser's before/after-the-
    # command defaults: no --log-level means $EVCHARGE_LOG_LEVEL, else debug with
    # --verbose and info in the log file.
    parser.add_argument("--log-level", choices=LEVELS,
                        default=d(env_choice(ENV_LOG_LEVEL, LEVELS, "") or None),
                        help=f"least severe line logged (default: ${ENV_LOG_LEVEL}, else info; "
                             "debug with --verbose)")
    parser.add_argument("--log-format", choices=FORMATS,
                        default=d(env_choice(ENV_LOG_FORMAT, FORMATS, "text")),
                        help="text: journald lines '<N>tier: text'; json: one object per line")


def add_limits(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--kwh", type=positive, help="stop after this much energy")
    group.add_argument("--minutes", type=positive, help="stop after this many minutes")


def build_parser() -> argparse.ArgumentParser:
    parser = DriverParser(
        prog="evcharge driver", description="The EV driver's client.",
        epilog="exit codes: 0 ok, 1 failed, 2 usage, 3 Central (or Kafka) unreachable, "
               "4 refused by Central, 5 config (secret, CA, state dir, services file), "
               "130 interrupted")
    add_connection_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("list", help="charge points: id, location, status, price, max kW")
    add_connection_options(p, defaults=False)
    p = sub.add_parser("charge", help="charge at a charge point and follow it live")
    p.add_argument("cp_id", metavar="CP")
    add_limits(p)
    add_connection_options(p, defaults=False)
    p = sub.add_parser("stop", help="stop my running session")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the ticket")
    add_connection_options(p, defaults=False)
    p = sub.add_parser("history", help="my past sessions with energy and cost")
    p.add_argument("--limit", type=count, help="at most this many sessions")
    add_connection_options(p, defaults=False)
    p = sub.add_parser("watch", help="follow my session started at a charge point (card or "
                                     "menu): live data and the ticket")
    p.add_argument("--wait", type=positive,
                   help="give up (exit 1) if no session of mine starts within this many "
                        "seconds (default: wait until Ctrl-C)")
    add_limits(p)
    add_connection_options(p, defaults=False)
    p = sub.add_parser("run", help="one service after another from a file of CP ids")
    p.add_argument("file", type=Path, metavar="FILE")
    add_limits(p)
    p.add_argument("--pause", type=non_negative, default=4.0,
                   help="seconds between two services (default 4)")
    add_connection_options(p, defaults=False)
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.driver_id:
        parser.error(f"--id is required (or set ${ENV_DRIVER})")
    if not DRIVER_ID.match(args.driver_id):
        parser.error(f"--id '{args.driver_id}': use letters, digits, '.', '_' or '-' "
                     "(at most 64)")
    if not args.central:
        parser.error(f"--central HOST:PORT is required (or set ${ENV_CENTRAL})")
    for option in ("central", "kafka"):
        for address in getattr(args, option).split(","):
            try:
                parse_hostport(address.strip())
            except argparse.ArgumentTypeError as exc:
                parser.error(f"--{option}: {exc}")
    return args


def driver_secret(args: argparse.Namespace) -> str:
    """The secret from --secret-file, else $EVCHARGE_DRIVER_SECRET; ConfigProblem if neither."""
    try:
        if args.secret_file:
            return read_secret_file(args.secret_file)
        if os.environ.get(ENV_SECRET) is not None:
            return check_secret(os.environ[ENV_SECRET], f"${ENV_SECRET}")
    except SecretFileError as exc:
        raise ConfigProblem(str(exc)) from None
    raise ConfigProblem(f"the driver's secret is needed: --secret-file F (mode 0600) or "
                        f"${ENV_SECRET} (`evcharge central add-driver` made it)")


def security_from(args: argparse.Namespace) -> ssl.SSLContext | None:
    """--kafka-config into every Kafka client; the TLS context of --ca. ConfigProblem if bad."""
    try:
        if args.kafka_config:
            use_security(properties.load(args.kafka_config))
        return client_context(args.ca) if args.ca else None
    except (TLSClientError, KafkaConfigError) as exc:
        raise ConfigProblem(str(exc)) from None


def settings_from(args: argparse.Namespace, secret: str = "") -> Settings:
    (host, port), *others = [parse_hostport(a.strip()) for a in args.central.split(",")]
    return Settings(driver_id=args.driver_id, secret=secret, central_host=host, central_port=port,
                    kafka=args.kafka, state_dir=args.state_dir or default_state_dir(),
                    timeout=args.timeout, reconnect_grace=args.reconnect_grace, json=args.json,
                    tls=security_from(args), other_centrals=tuple(others))


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("terminated")


def main(argv: list[str] | None = None) -> int:
    """Run one driver command; failures leave as cliout's typed errors, which
    hub/evcharge/cli.py prints as `evcharge driver: error: ...` with their code."""
    os.umask(0o077)  # the ticket book, lock and log in the state dir: this user's only
    try:
        args = parse(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: usage message already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    output = JsonOutput() if args.json else TextOutput()
    signal.signal(signal.SIGTERM, _terminate)
    ctx = None
    try:
        settings = settings_from(args, driver_secret(args))
        cps = read_services(args.file) if args.command == "run" else []
        ctx = DriverContext(settings, output, kafka_logger())
        open_log(settings.state_dir, settings.driver_id, args.verbose, args.log_level,
                 args.log_format)
        if args.command == "run":
            ctx.open(needs_events=True)
            return run_services(ctx, cps, Limits(args.kwh, args.minutes), args.pause)
        command, needs_events = COMMANDS[args.command]
        ctx.open(needs_events)
        return command(ctx, args)
    except DriverExit as exc:
        # Central's words may carry control characters: none reach the terminal.
        exc.args = (clean(str(exc)),)
        output.error(str(exc), exc.exit_code)  # the JSON error object; the live view ends
        raise
    except KeyboardInterrupt:
        stopped = Interrupted("interrupted")
        output.error(str(stopped), stopped.exit_code)
        raise stopped from None
    except Exception as exc:  # the last boundary: one line for the user, details in the log
        trace.log("error", traceback.format_exc())
        failed = DriverExit(f"internal error: {exc.__class__.__name__}: {exc}")
        output.error(str(failed), failed.exit_code)
        raise failed from None
    finally:
        if ctx is not None:
            ctx.close()
        output.close()
