"""`evcharge admin`: operator commands against a running Central.

Exit codes: 0 done, 1 refused by Central (wrong token, unknown CP, ...),
2 usage, 3 Central unreachable or not answering.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from evcentral.admin_client import AdminClient, CentralUnreachable, NoReply, TLSRefused
from evcentral.admin_view import (
    audit_table,
    cps_table,
    dead_letters_table,
    sessions_table,
    sites_table,
)
from evhost.cliargs import count
from evhost.secretfile import SecretFileError, check_secret, read_secret_file
from evhost.tlsclient import TLSClientError, client_context
from evkafka.broker import parse_hostport
from evwire.trace import printable

ENV_ADMIN_TOKEN = "EVCHARGE_ADMIN_TOKEN"
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
WATCH_INTERVAL_S = 1.0

# subcommand -> (manual_command, positional field or None)
SUBCOMMANDS = {
    "list": ("list_cps", None),
    "sites": ("sites", None),
    "sessions": ("list_sessions", None),
    "stop": ("stop_cp", "cp_id"),
    "resume": ("resume_cp", "cp_id"),
    "stop-all": ("stop_all", None),
    "resume-all": ("resume_all", None),
    "close-session": ("close_session", "session_id"),
    "dead-letters": ("dead_letters", None),
    "audit": ("audit", None),
}


class RemovedSecretFlag(argparse.Action):
    """A flag that once took a secret on the command line: refused with the way to do it
    now, without echoing the value (argparse's "unrecognized arguments" would)."""

    def __init__(self, option_strings, dest, instead: str = "", **kw):
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kw)
        self.instead = instead

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is not accepted (anyone on this host can read a "
                     f"command line): use {self.instead}")


def _output_flags(p: argparse.ArgumentParser, default) -> None:
    p.add_argument("--json", action="store_true", default=default,
                   help="print Central's answer as JSON")
    p.add_argument("--no-color", action="store_true", default=default,
                   help="no colours (also off when stdout is not a terminal)")
    p.add_argument("--watch", action="store_true", default=default,
                   help="list/sessions: refresh every second until Ctrl-C")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evcharge admin", description=__doc__, allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--central", required=True, metavar="HOST:PORT", help="Central's address")
    p.add_argument("--ca", metavar="PEM",
                   help="speak TLS to Central and verify its certificate against this CA")
    p.add_argument("--admin-token-file", metavar="PATH",
                   help=f"file (mode 0600) holding the admin token (default: ${ENV_ADMIN_TOKEN};"
                        " never the token itself on the command line)")
    p.add_argument("--token", action=RemovedSecretFlag,
                   instead=f"--admin-token-file PATH or ${ENV_ADMIN_TOKEN}")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer")
    _output_flags(p, False)
    sub = p.add_subparsers(dest="action", required=True, metavar="COMMAND")
    helps = {"list": "charge points and their live sessions",
             "sites": "each site's power limit, live total and its CPs' shares",
             "sessions": "recent sessions",
             "stop": "take a CP out of service", "resume": "put a CP back in service",
             "stop-all": "stop every CP", "resume-all": "resume every CP",
             "close-session": "finalise a session whose CP never came back",
             "dead-letters": "Kafka records Central set aside, and why",
             "audit": "admin actions and failed authentications, oldest first"}
    for name, (_command, field) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=helps[name])
        if field:
            sp.add_argument(field, metavar=field.upper().replace("_ID", ""))
        if name in ("stop", "stop-all"):
            sp.add_argument("--reason", help="shown to drivers and in the list")
        if name == "audit":
            sp.add_argument("--limit", type=count, default=50,
                            help="the newest N entries (default %(default)s, at most 1000)")
        _output_flags(sp, argparse.SUPPRESS)  # after the subcommand too, without resetting
    return p


def render(action: str, reply: dict, colour: bool) -> str:
    data = reply.get("data")
    if action == "list" and isinstance(data, list):
        return cps_table(data, colour)
    if action == "sites" and isinstance(data, list):
        return sites_table(data)
    if action == "sessions" and isinstance(data, list):
        return sessions_table(data)
    if action == "dead-letters" and isinstance(data, list):
        return dead_letters_table(data)
    if action == "audit" and isinstance(data, list):
        return audit_table(data)
    return printable(reply.get("message", ""))


def run_once(client: AdminClient, ns: argparse.Namespace) -> int:
    command, field = SUBCOMMANDS[ns.action]
    fields = {field: getattr(ns, field)} if field else {}
    if getattr(ns, "reason", None):
        fields["reason"] = ns.reason
    if getattr(ns, "limit", None):
        fields["limit"] = ns.limit
    reply = client.command(command, **fields)
    if ns.json:
        print(json.dumps(reply, default=str))
        return 0 if reply.get("status") == "success" else EXIT_REFUSED
    if reply.get("status") != "success":
        print(f"evcharge admin: {printable(reply.get('message') or reply.get('error'))}",
              file=sys.stderr)
        return EXIT_REFUSED
    colour = not ns.no_color and sys.stdout.isatty()
    print(render(ns.action, reply, colour), flush=True)
    return 0


def watch(client: AdminClient, ns: argparse.Namespace) -> int:
    clear = sys.stdout.isatty() and not ns.json
    while True:
        if clear:
            sys.stdout.write("\033[H\033[2J")
        else:
            print(f"-- {time.strftime('%H:%M:%S')}", flush=True)
        try:
            code = run_once(client, ns)
        except (CentralUnreachable, NoReply) as exc:
            print(f"{exc}; retrying", flush=True)
            client.close()
            code = 0
        if code == EXIT_REFUSED:
            return code
        time.sleep(WATCH_INTERVAL_S)


def token_of(path: str | None) -> str | None:
    """The token from --admin-token-file, else $EVCHARGE_ADMIN_TOKEN, else None."""
    if path:
        return read_secret_file(path)
    token = os.environ.get(ENV_ADMIN_TOKEN, "").strip()
    return check_secret(token, f"${ENV_ADMIN_TOKEN}") if token else None


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        host, port = parse_hostport(ns.central)
    except argparse.ArgumentTypeError as exc:
        print(f"evcharge admin: --central: {exc}", file=sys.stderr)
        return 2
    if ns.watch and ns.action not in ("list", "sessions"):
        print("evcharge admin: --watch works with list and sessions only", file=sys.stderr)
        return 2
    try:
        token = token_of(ns.admin_token_file)
    except SecretFileError as exc:
        print(f"evcharge admin: error: admin token: {exc}", file=sys.stderr)
        return 2
    try:
        ssl_context = client_context(ns.ca) if ns.ca else None
    except TLSClientError as exc:
        print(f"evcharge admin: error: {exc}", file=sys.stderr)
        return 2
    client = AdminClient(host, port, token, timeout=ns.timeout, ssl_context=ssl_context)
    try:
        client.connect()
        return watch(client, ns) if ns.watch else run_once(client, ns)
    except TLSRefused as exc:
        print(f"evcharge admin: error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except CentralUnreachable:
        print(f"cannot reach Central at {host}:{port}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except NoReply:
        print(f"no answer from Central at {host}:{port} within {ns.timeout:g} s",
              file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()
