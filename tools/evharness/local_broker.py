"""A local broker (Tansu) that a test kills and starts again on the same address.

It keeps everything in memory, so a restart is a broker that lost its state: topics,
records, committed offsets and the producer ids of idempotent producers. That is
the fault the clients must survive (evkafka.renewal)."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from evharness.procs import free_port, wait_port
from evkafka.broker import spawn
from evkafka.client import ensure_topics


class RestartableLocalBroker:
    def __init__(self, log_path: Path, topics: list[str]):
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = str(log_path)
        self.topics = topics
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        """Start it (again) and create the topics (a restarted one has none)."""
        self.proc = spawn(self.bootstrap, self.log_path)
        wait_port("127.0.0.1", self.port, timeout=20, proc=self.proc)
        ensure_topics(self.bootstrap, self.topics)

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()
