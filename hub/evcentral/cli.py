"""`evcharge central ...`: run Central, or provision charge points and drivers.

    evcharge central [run] --listen HOST:PORT --db PATH|URL [--kafka HOST:PORT] ...
    evcharge central add-cp | remove-cp | list-cps | add-driver | remove-driver | list-drivers
"""
from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys

from evcentral import logsink, provision_cli
from evcentral.admin_cli import RemovedSecretFlag
from evcentral.config import (
    DEFAULT_AUTH_LIST_RATE,
    DEFAULT_HEARTBEAT_TIMEOUT_S,
    DEFAULT_KAFKA_REQUEST_TTL_S,
    DEFAULT_PRICE_PER_KWH,
    DEFAULT_START_TIMEOUT_S,
    Config,
    default_central_id,
)
from evcentral.provision_cli import add_db_options
from evcentral.secrets_box import SecretBox, SecretBoxError
from evcentral.store.errors import StoreConfigError
from evcentral.store.target import check_target
from evcentral.tls import TLSConfigError, check_listen, server_context
from evhost.cliargs import count, positive
from evhost.cliout import CommandError, ConfigProblem, Parser, UsageError
from evhost.logsetup import add_log_options, setup_logging
from evhost.secretfile import SecretFileError, check_secret, read_secret_file
from evkafka import properties
from evkafka.broker import parse_hostport
from evkafka.client import use_security
from evkafka.properties import KafkaConfigError
from evwire.schema import _ID_CHARS as ID_CHARS
from evwire.schema import ID_RULE

ENV_ADMIN_TOKEN = "EVCHARGE_ADMIN_TOKEN"



def _hostport(text: str) -> tuple[str, int]:
    host, port = parse_hostport(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range in '{text}'")
    return host, port


def _central_id(text: str) -> str:
    if not 0 < len(text) <= 64 or text.strip(ID_CHARS):
        raise argparse.ArgumentTypeError(f"'{text}' is not an id ({ID_RULE})")
    return text


def run_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="evcharge central", allow_abbrev=False,
        description="Run Central: TCP gateway for Monitors, Drivers and operators, sessions and "
                    "billing in SQLite or PostgreSQL, Kafka telemetry. Provisioning: "
                    "evcharge central "
                    f"{{{','.join(provision_cli.COMMANDS)}}} --help")
    p.add_argument("--listen", required=True, type=_hostport, metavar="HOST:PORT",
                   help="address to accept Monitors, Drivers and admin clients on")
    add_db_options(p)
    p.add_argument("--kafka", metavar="HOST:PORT",
                   help="Kafka bootstrap servers (default: the local broker at 127.0.0.1:9092, "
                        "started in the background if none runs)")
    tls = p.add_argument_group("TLS and Kafka security (docs/SECURITY.md)")
    tls.add_argument("--tls-cert", metavar="PEM",
                     help="serve TLS with this certificate (chain) on --listen")
    tls.add_argument("--tls-key", metavar="PEM", help="the certificate's private key (0600)")
    tls.add_argument("--tls-client-ca", metavar="PEM",
                     help="verify client certificates (Monitors may present one) against "
                          "this CA; a certificate that does not chain to it is refused")
    tls.add_argument("--insecure", action="store_true",
                     help="allow a plaintext listener on a non-loopback address")
    tls.add_argument("--kafka-config", metavar="FILE",
                     help="librdkafka security properties (key=value lines: "
                          "security.protocol, sasl.*, ssl.*), e.g. SASL_SSL with SCRAM")
    p.add_argument("--http", type=_hostport, metavar="HOST:PORT",
                   help="also serve the operator's web console, the driver page and the "
                        "REST API here (docs/WEB.md); TLS as --listen")
    p.add_argument("--price-per-kwh", type=positive, default=DEFAULT_PRICE_PER_KWH,
                   help="price of CPs without their own (default %(default)s)")
    p.add_argument("--admin-token-file", metavar="PATH",
                   help="file (mode 0600) holding the token operators must present (default: "
                        f"${ENV_ADMIN_TOKEN}; neither: admin commands refused). Never on the "
                        "command line: anyone on the host can read argv")
    p.add_argument("--admin-token", action=RemovedSecretFlag,
                   instead=f"--admin-token-file PATH or ${ENV_ADMIN_TOKEN}")
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
    p.add_argument("--auth-list-rate", type=positive, default=DEFAULT_AUTH_LIST_RATE,
                   metavar="PAGES",
                   help="pages of the Monitors' offline authorisation lists sent per second "
                        "over all CPs, so that a reconnect storm or a driver added never "
                        "crowds out telemetry (a page: up to 32 drivers, about 3 KB; "
                        "default %(default)g)")
    p.add_argument("--require-known-drivers", action="store_true",
                   help="refuse a driver id typed at a charge point (walk-up) unless added "
                        "with `evcharge central add-driver`; socket and Kafka drivers "
                        "always prove a provisioned credential")
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
    p.add_argument("--auth-timeout", type=positive, default=5.0,
                   help="close a connection that has not authenticated within this many "
                        "seconds (default %(default)s)")
    p.add_argument("--max-connections-per-address", type=count, default=64,
                   help="connections one address may hold (default %(default)s; loopback "
                        "addresses are exempt unless --cap-loopback)")
    p.add_argument("--cap-loopback", action="store_true",
                   help="apply --max-connections-per-address to 127.0.0.1 and ::1 too")
    p.add_argument("--kafka-timeout", type=positive, default=15.0,
                   help="seconds to wait for Kafka before listening anyway (default %(default)s)")
    p.add_argument("--time-scale", type=positive, default=1.0,
                   help="simulated seconds per real second of the CPs' virtual hardware "
                        "(demos; 1 for real chargers): scales the energy a CP's power "
                        "allows before its session is disputed (default %(default)s)")
    p.add_argument("--central-id", type=_central_id, metavar="ID",
                   help="this Central's name among the Centrals sharing one PostgreSQL "
                        "database (docs/DEPLOY.md): unique per cluster, 1-64 of A-Z a-z 0-9 "
                        ". _ : - (default: HOST:PORT of --listen, the machine's name for "
                        "0.0.0.0)")
    ocpp = p.add_argument_group("OCPP 1.6J gateway (docs/OCPP.md)")
    ocpp.add_argument("--ocpp", type=_hostport, metavar="HOST:PORT",
                      help="also accept OCPP 1.6J charge points over WebSocket at "
                           "/ocpp/{cp_id} (HTTP Basic: cp_id and its add-cp secret; TLS with "
                           "--tls-cert/--tls-key)")
    ocpp.add_argument("--ocpp-heartbeat-interval", type=count, default=60,
                      help="Heartbeat interval told to OCPP chargers, seconds (default "
                           "%(default)s; WebSocket pings keep them alive in between)")
    add_log_options(p)
    return p


def parser() -> argparse.ArgumentParser:
    """Every form of `evcharge central` in one parser, for shell completion only: main()
    parses with run_parser() or provision_cli.parser(), as the first word says."""
    p = run_parser()
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", parents=[run_parser()], add_help=False, help="run Central (default)")
    provisioning = next(a for a in provision_cli.parser()._actions
                        if isinstance(a, argparse._SubParsersAction))
    # argparse cannot adopt a built subparser; its map and help entries can be shared
    sub._name_parser_map.update(provisioning.choices)
    sub._choices_actions.extend(provisioning._choices_actions)
    return p


def admin_token_of(path: str | None) -> str | None:
    """The admin token from the file, else $EVCHARGE_ADMIN_TOKEN, else None (admin off)."""
    if path:
        return read_secret_file(path)
    token = os.environ.get(ENV_ADMIN_TOKEN, "").strip()
    return check_secret(token, f"${ENV_ADMIN_TOKEN}") if token else None


def _tls_of(ns: argparse.Namespace) -> ssl.SSLContext | None:
    """The listener's TLS context (None: plaintext, refused off loopback unless --insecure)."""
    if bool(ns.tls_cert) != bool(ns.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if ns.tls_client_ca and not ns.tls_cert:
        raise UsageError("--tls-client-ca needs --tls-cert and --tls-key")
    try:  # a plaintext address off loopback: the command line's choice, a usage error
        check_listen(ns.listen[0], bool(ns.tls_cert), ns.insecure)
        if ns.ocpp:  # Basic passwords in the clear otherwise (OCPP security profile 1)
            check_listen(ns.ocpp[0], bool(ns.tls_cert), ns.insecure)
        if ns.http:  # the same rule for the web port: plaintext only on loopback
            check_listen(ns.http[0], bool(ns.tls_cert), ns.insecure)
    except TLSConfigError as exc:
        raise UsageError(str(exc)) from None
    try:  # the certificate files themselves: configuration
        return server_context(ns.tls_cert, ns.tls_key, ns.tls_client_ca) if ns.tls_cert \
            else None
    except TLSConfigError as exc:
        raise ConfigProblem(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    # Whatever Central creates (its database and the -wal/-shm beside it, the
    # secrets-box key) is for its own user only: billing data and CP secrets.
    os.umask(0o077)
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in provision_cli.COMMANDS:
        return provision_cli.main(args)
    if args and args[0] == "run":
        args = args[1:]
    ns = run_parser().parse_args(args)
    try:
        admin_token = admin_token_of(ns.admin_token_file)
    except SecretFileError as exc:
        raise ConfigProblem(f"admin token: {exc}") from None
    ssl_context = _tls_of(ns)
    try:  # the database's settings before anything starts: exit 5, one line
        check_target(ns.db, ns.db_key_file)
        if ns.db_key_file:
            SecretBox.for_key_file(ns.db_key_file)
    except (StoreConfigError, SecretBoxError) as exc:
        raise ConfigProblem(str(exc)) from None
    try:
        if ns.kafka_config:
            use_security(properties.load(ns.kafka_config))
    except KafkaConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    config = Config(
        host=ns.listen[0], port=ns.listen[1], db_path=ns.db, db_key_file=ns.db_key_file,
        kafka=ns.kafka,
        price_per_kwh=ns.price_per_kwh, admin_token=admin_token,
        heartbeat_timeout=ns.heartbeat_timeout, require_known_drivers=ns.require_known_drivers,
        max_frame=ns.max_frame, max_connections=ns.max_connections,
        idle_timeout=ns.idle_timeout, write_buffer_limit=ns.write_buffer_limit,
        drain_timeout=ns.drain_timeout, start_timeout=ns.start_timeout,
        auth_timeout=ns.auth_timeout, max_connections_per_address=ns.max_connections_per_address,
        cap_loopback=ns.cap_loopback,
        kafka_request_ttl=ns.kafka_request_ttl,
        auth_list_rate=ns.auth_list_rate,
        kafka_timeout=ns.kafka_timeout, log_level=ns.log_level, time_scale=ns.time_scale,
        ssl_context=ssl_context, http=ns.http,
        ocpp=ns.ocpp, ocpp_heartbeat_interval=max(1, ns.ocpp_heartbeat_interval),
        central_id=ns.central_id or default_central_id(*ns.listen),
    )
    setup_logging(ns, "evcharge-central", write=logsink.SINK)
    from evcentral.app import Central, StartupError  # heavy imports only when running

    try:
        return asyncio.run(Central(config).run())
    except StartupError as exc:  # e.g. the port is taken: exit 1, one line
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:
        return 130
