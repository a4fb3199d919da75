"""Find or start the local Kafka-protocol broker for programs given no --kafka.

The local broker keeps its log in memory, so it must outlive the programs
that use it: it is started as its own detached process (`evcharge broker`,
new session, no shared stdio) and left running when the caller exits, so a
restarted Central finds its topics and committed offsets again.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evhost.ports import bin_path, port_open, wait_port
from evkafka.broker import DEFAULT_LOCAL_BROKER, parse_hostport


@dataclass(frozen=True)
class LocalBroker:
    address: str
    started: bool  # True: this call started it; False: one was already listening
    pid: int | None  # the started broker's pid (None when it was already running)
    log_path: str | None


def default_log_path(address: str) -> str:
    host, port = parse_hostport(address)
    return str(Path(tempfile.gettempdir()) / f"evcharge-broker-{host}-{port}.log")


def ensure_local_broker(address: str = DEFAULT_LOCAL_BROKER, log_path: str | None = None,
                        timeout: float = 20.0) -> LocalBroker:
    """Return a broker listening at `address`, starting `evcharge broker` if none is.

    Raises ValueError for a malformed address and TimeoutError/RuntimeError when
    a started broker does not come up within `timeout` seconds.
    """
    try:
        host, port = parse_hostport(address)
    except Exception as exc:  # argparse's error type; callers want a plain one
        raise ValueError(str(exc)) from None
    if port_open(host, port):
        return LocalBroker(address, False, None, None)
    log_path = log_path or default_log_path(address)
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            [bin_path("evcharge"), "broker", "--listen", address],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # not in our process group: our Ctrl-C/kill spares it
            close_fds=True, env=dict(os.environ),
        )
    try:
        wait_port(host, port, timeout=timeout, proc=proc)
    except RuntimeError:
        # Another program may have started a broker on this address at the same
        # moment: ours then fails to bind, but theirs serves us just as well.
        if port_open(host, port):
            return LocalBroker(address, False, None, None)
        raise
    return LocalBroker(address, True, proc.pid, log_path)
