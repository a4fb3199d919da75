"""evcharge monitor: the charge point's Monitor daemon (Raspberry Pi, systemd).

Settings come from --config FILE (TOML), then EVCHARGE_* environment
variables, then flags; a later source wins. A bad option is one line on
stderr and exit status 2; a bad setting or file (secret, certificate, Kafka
config) one line and exit status 5 (evhost.cliout's codes, as every command).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import NoReturn

from evhost.cliout import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_USAGE
from evhost.logsetup import add_log_options, setup_logging
from evkafka.client import use_security
from evmonitor import config
from evmonitor.daemon import MonitorDaemon


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: it is what journald shows the operator.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class RemovedSecret(argparse.Action):
    """--secret once put the secret on the command line: refused, its value not echoed."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error("--secret is not accepted (anyone on this host can read a command "
                     "line): use --secret-file PATH (mode 0600) or EVCHARGE_SECRET")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="evcharge monitor", description=__doc__, allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Every flag also reads EVCHARGE_<NAME> (e.g. EVCHARGE_CP_ID, EVCHARGE_CENTRAL, "
               "EVCHARGE_KAFKA) and the TOML key <name> (e.g. cp_id). The secret comes from "
               "--secret-file (mode 0600) or EVCHARGE_SECRET, never from the command line. "
               "See docs/MONITOR.md.")
    p.add_argument("--config", metavar="FILE", help="TOML settings file "
                   "(e.g. /etc/evcharge/monitor.toml)")
    ident = p.add_argument_group("identity")
    ident.add_argument("--cp-id", help="charge point id, e.g. CP1")
    ident.add_argument("--secret-file", metavar="PATH",
                       help="file (mode 0600) holding the CP's secret for auth_request")
    ident.add_argument("--secret", nargs="?", action=RemovedSecret, help=argparse.SUPPRESS)
    ident.add_argument("--location", help="where the charge point is (shown to drivers)")
    ident.add_argument("--max-kw", type=float, help="max charging rate in kW (default 22)")
    links = p.add_argument_group("links")
    engine = links.add_mutually_exclusive_group()
    engine.add_argument("--engine", metavar="HOST:PORT", help="the Engine over TCP")
    engine.add_argument("--engine-serial", metavar="DEV", help="the Engine over a serial line, "
                        "e.g. /dev/ttyACM0")
    links.add_argument("--engine-baud", type=int, help="serial speed (default 115200)")
    links.add_argument("--engine-key-file", metavar="PATH",
                       help="file (mode 0600) holding the link key the Engine demands")
    links.add_argument("--central", metavar="HOST:PORT[,HOST:PORT]",
                       help="Central's TCP address, or several (tried in turn, the next after "
                            "a failed connection or a lost link)")
    links.add_argument("--ca", metavar="PEM", help="TLS to Central: the CA of its certificate")
    links.add_argument("--tls-cert", metavar="PEM",
                       help="this CP's client certificate (for a Central with --tls-client-ca)")
    links.add_argument("--tls-key", metavar="PEM", help="its private key (mode 0600)")
    links.add_argument("--kafka", metavar="HOST:PORT", help="Kafka bootstrap servers")
    links.add_argument("--kafka-config", metavar="FILE",
                       help="librdkafka security properties (key=value: security.protocol, "
                            "sasl.*, ssl.*), e.g. SASL_SSL with SCRAM")
    links.add_argument("--outbox", metavar="PATH",
                       help=f"SQLite telemetry outbox (default {config.DEFAULT_OUTBOX})")
    timing = p.add_argument_group("timing (seconds)")
    timing.add_argument("--health-interval", type=float, help="Engine health checks (1)")
    timing.add_argument("--heartbeat-interval", type=float, help="heartbeats to Central (1)")
    timing.add_argument("--engine-timeout", type=float, help="health check answer timeout (1)")
    timing.add_argument("--command-timeout", type=float, help="Engine command answer timeout (5)")
    timing.add_argument("--backoff-base", type=float, help="reconnect back-off base (0.5)")
    timing.add_argument("--backoff-cap", type=float, help="Central reconnect back-off cap (30)")
    timing.add_argument("--backoff-reset", type=float,
                        help="link up this long resets the back-off (10)")
    timing.add_argument("--engine-backoff-cap", type=float, help="Engine reconnect cap (2)")
    timing.add_argument("--shutdown-flush", type=float,
                        help="time to flush Kafka at shutdown (3)")
    box = p.add_argument_group("outbox")
    box.add_argument("--outbox-bound", type=int, help="rows before samples are thinned (10000)")
    box.add_argument("--thin-keep-every", type=int, help="keep every Nth sample when thinning (10)")
    box.add_argument("--kafka-in-flight", type=int, help="records awaiting delivery at once (1000)")
    out = p.add_argument_group("output")
    out.add_argument("--panel", action="store_true", default=None,
                     help="live text panel on stdout")
    add_log_options(out, defaults=False)  # config.build layers file < environment < flags
    return p


def main(argv: list[str]) -> int:
    # The outbox (telemetry, billing evidence) and state files are for this user only.
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    flags = {name: getattr(args, name, None) for name in config.SETTINGS}
    try:
        cfg = config.build(args.config, flags)
    except config.ConfigError as exc:
        print(f"evcharge monitor: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(cfg, "evcharge-monitor")
    use_security(cfg.kafka_security)
    try:
        return asyncio.run(MonitorDaemon(cfg).run())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
