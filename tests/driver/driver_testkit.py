"""Small helpers shared by the driver tests (reading the driver's output)."""
from __future__ import annotations

import json


def driver_secret(driver_id: str) -> str:
    """Every test driver's secret (conftest provisions it, the fake Central checks it)."""
    return f"secret-{driver_id}"


def json_lines(text: str) -> list[dict]:
    """The driver's --json stdout: one object per line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def tickets_in(text: str) -> int:
    """How many tickets the text output shows."""
    return text.count("---- ticket")


class PtyProcess:
    """A process on a real pseudo-terminal that is its controlling terminal, so a
    Ctrl-C typed into it (b"\\x03") reaches the process as SIGINT, as at a desk."""

    def __init__(self, argv: list[str]):
        import fcntl
        import os
        import pty
        import subprocess
        import termios

        self.master, slave = pty.openpty()

        def take_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.popen = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                      start_new_session=True, preexec_fn=take_terminal)
        os.close(slave)
        self.output = b""

    def read_available(self, wait: float = 0.1) -> str:
        import os
        import select

        while True:
            ready, _w, _x = select.select([self.master], [], [], wait)
            if not ready:
                break
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the process has gone and the terminal is closed
                break
            if not chunk:
                break
            self.output += chunk
            wait = 0.05
        return self.output.decode(errors="replace")

    def type(self, data: bytes) -> None:
        import os

        os.write(self.master, data)

    def wait_for(self, text: str, timeout: float = 20.0, times: int = 1) -> str:
        """Wait until `text` has been shown `times` times in all; return the output."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.read_available().count(text) >= times:
                return self.output.decode(errors="replace")
        raise TimeoutError(f"{text!r} not shown within {timeout}s; output so far:\n"
                           + self.output.decode(errors="replace"))

    def close(self) -> None:
        import os

        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        os.close(self.master)


def wait_for_ticket_record(bootstrap: str, driver_id: str, timeout: float = 30.0) -> dict:
    """Wait until a charge_completion for driver_id is on driver-events (read with a
    throwaway group of its own, so the driver's own group is left untouched)."""
    import time
    import uuid

    import evwire
    from evkafka import names
    from evkafka.client import AssignedConsumer

    group = names.namespace() + "driver-test-peek-" + uuid.uuid4().hex[:8]
    consumer = AssignedConsumer(bootstrap, group, [names.driver_events()])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is None or record.key() != driver_id.encode():
                continue
            msg = evwire.loads(record.value())
            if msg.get("type") in ("charge_completion", "charge_completion_notification"):
                return msg
        raise TimeoutError(f"no ticket for {driver_id} on driver-events within {timeout}s")
    finally:
        consumer.close()


class SilentPeer:
    """A TCP address that accepts connections (the kernel completes them) and never
    answers: a hung Central as the driver sees it, as opposed to a refused port."""

    def __init__(self) -> None:
        import socket

        self.listener = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"

    def close(self) -> None:
        self.listener.close()
