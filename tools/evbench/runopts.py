"""What the load generator and the soak share: their common options, the broker they
run against (an existing one, or a local one started for the run) and the header of
their reports."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evharness.procs import free_port, wait_port
from evhost.cliargs import count, positive
from evkafka.broker import parse_hostport, spawn
from evwire.trace import LEVELS


def hostport(text: str) -> str:
    parse_hostport(text)
    return text


def add_run_options(p: argparse.ArgumentParser) -> None:
    """--ramp-rate, --drain, --central-log-level, --kafka, --broker-pid, --workdir,
    --log-level: how a run drives Central, and against which broker."""
    p.add_argument("--ramp-rate", type=positive, default=500.0,
                   help="charge requests per second while sessions open (default %(default)s)")
    p.add_argument("--drain", type=positive, default=30.0,
                   help="seconds to wait for the last records and tickets, plus one per 200 "
                        "CPs (default %(default)s)")
    p.add_argument("--central-log-level", choices=sorted(LEVELS, key=LEVELS.get),
                   default="info", help="Central's --log-level (default: info, as deployed)")
    p.add_argument("--kafka", type=hostport, metavar="HOST:PORT",
                   help="an existing broker (default: start a local Tansu broker)")
    p.add_argument("--broker-pid", type=count,
                   help="with --kafka: the broker's process id, to report its CPU and memory")
    p.add_argument("--workdir", type=Path, help="keep databases and logs here")
    p.add_argument("--log-level", choices=sorted(LEVELS, key=LEVELS.get), default="warning",
                   help="the generator's own log level (info traces every message)")


@contextmanager
def broker_for(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, int | None]]:
    """(bootstrap, broker pid): --kafka's, or a local broker's started here and stopped
    at the end."""
    if args.kafka is not None:
        yield args.kafka, args.broker_pid
        return
    bootstrap = f"127.0.0.1:{free_port()}"
    workdir.mkdir(parents=True, exist_ok=True)
    broker = spawn(bootstrap, str(workdir / "broker.log"))
    try:
        wait_port("127.0.0.1", int(bootstrap.rsplit(":", 1)[1]), timeout=30, proc=broker)
        yield bootstrap, broker.pid
    finally:
        broker.terminate()
        broker.wait(15)


def report_header(module: str, argv: list[str] | None, args: argparse.Namespace,
                  bootstrap: str) -> dict:
    from evbench.machine import describe

    return {"command": f"python -m {module} " + " ".join(argv or sys.argv[1:]),
            "machine": describe(bootstrap, args.kafka is None),
            "settings": {k: (str(v) if isinstance(v, Path) else v)
                         for k, v in vars(args).items()}}
