"""`evcharge central ...`: run Central, or provision charge points and drivers.

    evcharge central [run] --listen HOST:PORT --db PATH [--kafka HOST:PORT] ...
    evcharge central add-cp | remove-cp | list-cps | add-driver | remove-driver | list-drivers
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys

from evcentral import logsink, provision_cli
from evcentral.config import (
    DEFAULT_HEARTBEAT_TIMEOUT_S,
    DEFAULT_KAFKA_REQUEST_TTL_S,
    DEFAULT_PRICE_PER_KWH,
    DEFAULT_START_TIMEOUT_S,
    Config,
)
from evcharge.cliargs import count, positive
from evkafka.broker import parse_hostport
from evwire.trace import LEVELS, configure

ENV_ADMIN_TOKEN = "EVCHARGE_ADMIN_TOKEN"



def _hostport(text: str) -> tuple[str, int]:
    host, port = parse_hostport(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range in '{text}'")
    return host, port


def run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evcharge central",
        description="Run Central: TCP gateway for Monitors, Drivers and operators, sessions and "
                    "billing in SQLite, Kafka telemetry. Provisioning: evcharge central "
                    f"{{{','.join(provision_cli.COMMANDS)}}} --help")
    p.add_argument("--listen", required=True, type=_hostport, metavar="HOST:PORT",
                   help="address to accept Monitors, Drivers and admin clients on")
    p.add_argument("--db", required=True, metavar="PATH",
                   help="SQLite database (created if missing; the secret key sits in PATH.key)")
    p.add_argument("--kafka", metavar="HOST:PORT",
                   help="Kafka bootstrap servers (default: the local broker at 127.0.0.1:9092, "
                        "started in the background if none runs)")
    p.add_argument("--price-per-kwh", type=positive, default=DEFAULT_PRICE_PER_KWH,
                   help="price of CPs without their own (default %(default)s)")
    p.add_argument("--admin-token", default=os.environ.get(ENV_ADMIN_TOKEN),
                   help=f"token operators must present (default: ${ENV_ADMIN_TOKEN}; "
                        "none: admin commands refused)")
    p.add_argument("--heartbeat-timeout", type=positive,
                   default=DEFAULT_HEARTBEAT_TIMEOUT_S,
                   help="seconds without any message before a CP is DISCONNECTED "
                        "(default %(default)s)")
    p.add_argument("--start-timeout", type=positive, default=DEFAULT_START_TIMEOUT_S,
                   help="seconds a connected CP may leave a start command unanswered before the "
                        "session ends as failed (default %(default)s)")
    p.add_argument("--kafka-request-ttl", type=positive,
                   default=DEFAULT_KAFKA_REQUEST_TTL_S,
                   help="charge requests read from Kafka older than this many seconds (and "
                        "without expires_at) are refused, not started (default %(default)s)")
    p.add_argument("--require-known-drivers", action="store_true",
                   help="refuse drivers not added with `evcharge central add-driver`")
    p.add_argument("--max-frame", type=count, default=4096,
                   help="largest frame payload accepted, bytes (default %(default)s)")
    p.add_argument("--max-connections", type=count, default=10000,
                   help="connections served at once (default %(default)s)")
    p.add_argument("--idle-timeout", type=positive, default=600.0,
                   help="close connections silent this many seconds (default %(default)s)")
    p.add_argument("--write-buffer-limit", type=count, default=256 * 1024,
                   help="bytes of unread output before a slow client is dropped "
                        "(default %(default)s)")
    p.add_argument("--drain-timeout", type=positive, default=10.0,
                   help="seconds a client may leave output unread (default %(default)s)")
    p.add_argument("--kafka-timeout", type=positive, default=15.0,
                   help="seconds to wait for Kafka before listening anyway (default %(default)s)")
    p.add_argument("--log-level", choices=sorted(LEVELS, key=LEVELS.get), default="info")
    return p


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in provision_cli.COMMANDS:
        return provision_cli.main(args)
    if args and args[0] == "run":
        args = args[1:]
    ns = run_parser().parse_args(args)
    config = Config(
        host=ns.listen[0], port=ns.listen[1], db_path=ns.db, kafka=ns.kafka,
        price_per_kwh=ns.price_per_kwh, admin_token=ns.admin_token or None,
        heartbeat_timeout=ns.heartbeat_timeout, require_known_drivers=ns.require_known_drivers,
        max_frame=ns.max_frame, max_connections=ns.max_connections,
        idle_timeout=ns.idle_timeout, write_buffer_limit=ns.write_buffer_limit,
        drain_timeout=ns.drain_timeout, start_timeout=ns.start_timeout,
        kafka_request_ttl=ns.kafka_request_ttl,
        kafka_timeout=ns.kafka_timeout, log_level=ns.log_level,
    )
    configure(tier="evcharge-central", level=config.log_level, sink=logsink.SINK)
    from evcentral.app import Central, StartupError  # heavy imports only when running

    try:
        return asyncio.run(Central(config).run())
    except StartupError as exc:
        print(f"evcharge central: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
