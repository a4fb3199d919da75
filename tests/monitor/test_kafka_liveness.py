"""The panel's Kafka line follows the broker's answers, not an open socket: a broker
frozen with SIGSTOP keeps its TCP connections open, yet the panel must say it is not
connected within a bound, and connected again once the broker runs on."""
from __future__ import annotations

import os
import re
import signal
import time

import pytest

from evharness.procs import free_port, wait_port, wait_until
from evkafka.broker import spawn
from evmonitor.kafka_out import PROBE_EVERY_S, PROBE_TIMEOUT_S, STALE_S

# Stale threshold + one probe + the panel's refresh, with room for a busy machine.
FLAG_WITHIN_S = STALE_S + PROBE_EVERY_S + 6.0
RECOVER_WITHIN_S = PROBE_TIMEOUT_S + PROBE_EVERY_S + 8.0


@pytest.fixture
def private_broker(tmp_path):
    """A broker of this test's own (it gets frozen: never the session's shared one)."""
    port = free_port()
    proc = spawn(f"127.0.0.1:{port}", str(tmp_path / "broker.log"))
    try:
        wait_port("127.0.0.1", port, timeout=20, proc=proc)
        yield proc, f"127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(10)


def kafka_line(log: str, since: int) -> str:
    lines = re.findall(r"^Kafka .*$", log[since:], re.MULTILINE)
    return lines[-1] if lines else ""


def test_panel_says_kafka_is_not_connected_while_the_broker_is_frozen(
        fake_engine, fake_central, start_monitor, private_broker, kafka_ns):
    broker, bootstrap = private_broker
    proc = start_monitor(fake_engine, fake_central, "--panel", "--kafka", bootstrap)
    wait_until(lambda: " connected," in kafka_line(proc.log(), 0), timeout=30,
               what="panel: Kafka connected")

    os.killpg(broker.pid, signal.SIGSTOP)
    frozen_at, mark = time.monotonic(), len(proc.log())
    wait_until(lambda: "NOT connected" in kafka_line(proc.log(), mark),
               timeout=FLAG_WITHIN_S, what="panel: Kafka NOT connected while frozen")
    assert time.monotonic() - frozen_at <= FLAG_WITHIN_S
    assert proc.alive()

    os.killpg(broker.pid, signal.SIGCONT)
    mark = len(proc.log())
    wait_until(lambda: kafka_line(proc.log(), mark).split()[2:3] == ["connected,"],
               timeout=RECOVER_WITHIN_S, what="panel: Kafka connected again")
