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

from evcentral.admin_client import AdminClient, CentralUnreachable, NoReply
from evcentral.admin_view import cps_table, sessions_table
from evkafka.broker import parse_hostport

ENV_ADMIN_TOKEN = "EVCHARGE_ADMIN_TOKEN"
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
WATCH_INTERVAL_S = 1.0

# subcommand -> (manual_command, positional field or None)
SUBCOMMANDS = {
    "list": ("list_cps", None),
    "sessions": ("list_sessions", None),
    "stop": ("stop_cp", "cp_id"),
    "resume": ("resume_cp", "cp_id"),
    "stop-all": ("stop_all", None),
    "resume-all": ("resume_all", None),
    "close-session": ("close_session", "session_id"),
}


def _output_flags(p: argparse.ArgumentParser, default) -> None:
    p.add_argument("--json", action="store_true", default=default,
                   help="print Central's answer as JSON")
    p.add_argument("--no-color", action="store_true", default=default,
                   help="no colours (also off when stdout is not a terminal)")
    p.add_argument("--watch", action="store_true", default=default,
                   help="list/sessions: refresh every second until Ctrl-C")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evcharge admin", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--central", required=True, metavar="HOST:PORT", help="Central's address")
    p.add_argument("--token", default=os.environ.get(ENV_ADMIN_TOKEN),
                   help=f"admin token (default: ${ENV_ADMIN_TOKEN})")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer")
    _output_flags(p, False)
    sub = p.add_subparsers(dest="action", required=True, metavar="COMMAND")
    helps = {"list": "charge points and their live sessions", "sessions": "recent sessions",
             "stop": "take a CP out of service", "resume": "put a CP back in service",
             "stop-all": "stop every CP", "resume-all": "resume every CP",
             "close-session": "finalise a session whose CP never came back"}
    for name, (_command, field) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=helps[name])
        if field:
            sp.add_argument(field, metavar=field.upper().replace("_ID", ""))
        if name in ("stop", "stop-all"):
            sp.add_argument("--reason", help="shown to drivers and in the list")
        _output_flags(sp, argparse.SUPPRESS)  # after the subcommand too, without resetting
    return p


def render(action: str, reply: dict, colour: bool) -> str:
    data = reply.get("data")
    if action == "list" and isinstance(data, list):
        return cps_table(data, colour)
    if action == "sessions" and isinstance(data, list):
        return sessions_table(data)
    return reply.get("message", "")


def run_once(client: AdminClient, ns: argparse.Namespace) -> int:
    command, field = SUBCOMMANDS[ns.action]
    fields = {field: getattr(ns, field)} if field else {}
    if getattr(ns, "reason", None):
        fields["reason"] = ns.reason
    reply = client.command(command, **fields)
    if ns.json:
        print(json.dumps(reply, default=str))
        return 0 if reply.get("status") == "success" else EXIT_REFUSED
    if reply.get("status") != "success":
        print(f"evcharge admin: {reply.get('message') or reply.get('error')}", file=sys.stderr)
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
    client = AdminClient(host, port, ns.token, timeout=ns.timeout)
    try:
        client.connect()
        return watch(client, ns) if ns.watch else run_once(client, ns)
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
