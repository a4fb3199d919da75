"""The embedded MQTT broker (amqtt) for a bridge given no --mqtt.

Like the local Kafka broker (evkafka.local), it runs as its own detached
process (`python -m evmqtt.embedded --listen HOST:PORT`, new session), so it
outlives the bridge: when the bridge dies, the broker is what publishes the
bridge's last will to subscribers. Loopback only, anonymous, memory only:
the bridge republishes every retained value when it (re)connects.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from evcharge.harness.procs import port_open, wait_port
from evkafka.broker import parse_hostport

DEFAULT_EMBEDDED = "127.0.0.1:1883"


def broker_config(listen: str) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": listen}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve(listen: str) -> None:
    from amqtt.broker import Broker

    broker = Broker(broker_config(listen))
    await broker.start()
    print(f"<6>evcharge-mqtt-broker: ready listening on {listen} (amqtt, memory only)",
          file=sys.stderr, flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evmqtt.embedded", description=__doc__)
    parser.add_argument("--listen", default=DEFAULT_EMBEDDED)
    args = parser.parse_args(argv)
    host, _port = parse_hostport(args.listen)
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the embedded broker allows anonymous clients: loopback only")
    logging.basicConfig(level=logging.WARNING)  # amqtt logs per packet at INFO
    try:
        asyncio.run(serve(args.listen))
    except KeyboardInterrupt:
        return 0
    return 0


def ensure_embedded_broker(address: str = DEFAULT_EMBEDDED,
                           timeout: float = 20.0) -> tuple[bool, int | None, str | None]:
    """(started, pid, log path): a broker listening at address, started if none is."""
    host, port = parse_hostport(address)
    if port_open(host, port):
        return False, None, None
    log_path = str(Path(tempfile.gettempdir()) / f"evcharge-mqtt-broker-{host}-{port}.log")
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evmqtt.embedded", "--listen", address],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, close_fds=True, env=dict(os.environ))
    try:
        wait_port(host, port, timeout=timeout, proc=proc)
    except RuntimeError:
        if port_open(host, port):  # another bridge started one at the same moment
            return False, None, None
        raise
    return True, proc.pid, log_path


if __name__ == "__main__":
    sys.exit(main())
