"""`evcharge admin`: operator commands against a running Central.

Exit codes (evhost.cliout): 0 done, 2 usage, 3 Central unreachable or not answering,
4 refused by Central (wrong token, unknown CP, ...), 5 no admin token or a bad
token/CA file. Every failure is one line: `evcharge admin: error: ...`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from evcentral.admin_client import AdminClient, CentralUnreachable, NoReply, TLSRefused
from evcentral.admin_view import plain, rich_table, view_of
from evhost.cliargs import count
from evhost.cliout import ConfigProblem, Parser, Refused, Unreachable, UsageError
from evhost.logsetup import add_log_options, setup_logging
from evhost.secretfile import SecretFileError, check_secret, read_secret_file
from evhost.tlsclient import TLSClientError, client_context
from evkafka.broker import parse_hostport
from evwire.trace import printable

ENV_ADMIN_TOKEN = "EVCHARGE_ADMIN_TOKEN"
WATCH_INTERVAL_S = 1.0
HOW_TO_GIVE_TOKEN = f"use --admin-token-file PATH (mode 0600) or ${ENV_ADMIN_TOKEN}"

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
    p = Parser(prog="evcharge admin", description=__doc__, allow_abbrev=False,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--central", required=True, metavar="HOST:PORT[,HOST:PORT]",
                   help="Central's address, or several: the first that answers")
    p.add_argument("--ca", metavar="PEM",
                   help="speak TLS to Central and verify its certificate against this CA")
    p.add_argument("--admin-token-file", metavar="PATH",
                   help=f"file (mode 0600) holding the admin token (default: ${ENV_ADMIN_TOKEN};"
                        " never the token itself on the command line)")
    p.add_argument("--token", action=RemovedSecretFlag,
                   instead=f"--admin-token-file PATH or ${ENV_ADMIN_TOKEN}")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer")
    _output_flags(p, False)
    add_log_options(p, formats=False)  # its lines go to a terminal: text only
    sub = p.add_subparsers(dest="action", required=True, metavar="COMMAND")
    helps = {"list": "charge points and their live sessions",
             "sites": "each site's power limit, live total and its CPs' shares",
             "sessions": "recent sessions",
             "stop": "take a CP out of service", "resume": "put a CP back in service",
             "stop-all": "stop every CP in service",
             "resume-all": "resume the CPs stop-all stopped (not those stopped on their own)",
             "close-session": "finalise a session whose CP never came back",
             "dead-letters": "Kafka records Central set aside, and why",
             "audit": "admin actions and failed authentications, oldest first"}
    for name, (_command, field) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=helps[name])
        if field:
            sp.add_argument(field, metavar=field.upper().replace("_ID", ""))
        if name in ("stop", "stop-all"):
            sp.add_argument("--reason", help="shown to drivers and in the list (default: the "
                                             "CP's current reason, else 'stopped by the "
                                             "operator')")
        if name == "audit":
            sp.add_argument("--limit", type=count, default=50,
                            help="the newest N entries (default %(default)s, at most 1000)")
        _output_flags(sp, argparse.SUPPRESS)  # after the subcommand too, without resetting
    return p


def refusal(action: str, reply: dict) -> ConfigProblem | Refused:
    """The one error for each way Central says no (missing or wrong token, or its reason)."""
    reason = reply.get("reason")
    if reason == "missing_token":
        return ConfigProblem(f"no admin token given: {HOW_TO_GIVE_TOKEN}")
    if reason == "bad_token":
        return Refused("Central refused the admin token: it is not the one Central was "
                       f"started with ({HOW_TO_GIVE_TOKEN})")
    why = printable(reply.get("message") or reply.get("error") or "no reason given")
    return Refused(f"Central refused {action}: {why}")


def fields_of(ns: argparse.Namespace) -> dict:
    command, field = SUBCOMMANDS[ns.action]
    fields = {field: getattr(ns, field)} if field else {}
    if getattr(ns, "reason", None):
        fields["reason"] = ns.reason
    if getattr(ns, "limit", None):
        fields["limit"] = ns.limit
    return fields


def ask(client: AdminClient, ns: argparse.Namespace) -> dict:
    """Central's successful answer to the subcommand; a refusal is raised."""
    reply = client.command(SUBCOMMANDS[ns.action][0], **fields_of(ns))
    if reply.get("status") != "success":
        if ns.json:  # scripts still get Central's whole answer on stdout
            print(json.dumps(reply, default=str), flush=True)
        raise refusal(ns.action, reply)
    return reply


def show(reply: dict, ns: argparse.Namespace, console: Console | None) -> None:
    """JSON, a rich table on a terminal (console), or plain lines for a pipe."""
    if ns.json:
        print(json.dumps(reply, default=str), flush=True)
        return
    view = view_of(ns.action, reply)
    if view is None:
        print(printable(reply.get("message", "")), flush=True)
    elif console is not None:
        console.print(rich_table(view))
    else:
        print(plain(view), flush=True)


def watch(client: AdminClient, ns: argparse.Namespace, console: Console | None) -> int:
    """Refresh every second until Ctrl-C: in place on a terminal (rich Live), else a
    `-- HH:MM:SS` line and the table each time. Central going away is shown and retried;
    a refusal ends the watch."""
    if console is None:
        while True:
            print(f"-- {time.strftime('%H:%M:%S')}", flush=True)
            try:
                show(ask(client, ns), ns, None)
            except (CentralUnreachable, NoReply) as exc:
                print(f"{printable(exc)}; retrying", flush=True)
                client.close()
            time.sleep(WATCH_INTERVAL_S)
    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            stamp = f"{time.strftime('%H:%M:%S')}  Central {client.host}:{client.port}"
            try:
                view = view_of(ns.action, ask(client, ns))
                body = rich_table(view) if view is not None else Text("")
            except (CentralUnreachable, NoReply) as exc:
                body = Text(f"{printable(exc)}; retrying", style="red")
                client.close()
            live.update(Group(Text(stamp, style="dim"), body), refresh=True)
            time.sleep(WATCH_INTERVAL_S)


def token_of(path: str | None) -> str:
    """The token from --admin-token-file, else $EVCHARGE_ADMIN_TOKEN; none is an error
    here, before Central would count a tokenless command as a failed attempt."""
    try:
        if path:
            return read_secret_file(path)
        token = os.environ.get(ENV_ADMIN_TOKEN, "").strip()
        if token:
            return check_secret(token, f"${ENV_ADMIN_TOKEN}")
    except SecretFileError as exc:
        raise ConfigProblem(f"admin token: {exc}") from None
    raise ConfigProblem(f"no admin token given: {HOW_TO_GIVE_TOKEN}")


def clients_of(ns: argparse.Namespace) -> list[AdminClient]:
    """One client per address of --central, in order (not connected yet)."""
    try:
        addresses = [parse_hostport(a.strip()) for a in ns.central.split(",")]
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--central: {exc}") from None
    if ns.watch and ns.action not in ("list", "sessions"):
        raise UsageError("--watch works with list and sessions only")
    token = token_of(ns.admin_token_file)
    try:
        ssl_context = client_context(ns.ca) if ns.ca else None
    except TLSClientError as exc:
        raise ConfigProblem(str(exc)) from None
    return [AdminClient(host, port, token, timeout=ns.timeout, ssl_context=ssl_context)
            for host, port in dict.fromkeys(addresses)]


def connect_first(clients: list[AdminClient]) -> AdminClient:
    """The first client that connects; CentralUnreachable naming every address if none."""
    failures = []
    for client in clients:
        try:
            client.connect()
            return client
        except TLSRefused:
            client.close()
            raise  # a certificate this CA does not vouch for: said as such, not as "down"
        except CentralUnreachable as exc:
            client.close()
            failures.append(str(exc))
    raise CentralUnreachable("; ".join(failures))


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(ns, "evcharge-admin")
    clients = clients_of(ns)
    client = clients[0]
    # rich only on a terminal; a pipe gets the plain lines scripts and tests read
    console = Console(no_color=ns.no_color or None, highlight=False) \
        if sys.stdout.isatty() and not ns.json else None
    try:
        client = connect_first(clients)
        if ns.watch:
            return watch(client, ns, console)
        show(ask(client, ns), ns, console)
        return 0
    except TLSRefused as exc:
        raise Unreachable(str(exc)) from None
    except CentralUnreachable as exc:
        text = str(exc)
        if not text.startswith("cannot reach Central"):
            text = f"cannot reach Central at {client.host}:{client.port}: {text}"
        raise Unreachable(text) from None
    except NoReply:
        raise Unreachable(f"no answer from Central at {client.host}:{client.port} within "
                          f"{ns.timeout:g} s") from None
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()
