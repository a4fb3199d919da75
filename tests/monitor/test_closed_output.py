"""A Monitor whose stdout/stderr pipe was closed (the terminal or `| tee` went away)
keeps running and still obeys SIGTERM, even while Central is unreachable and it
logs a failed reconnect every fraction of a second."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import time

from evharness.procs import bin_path, free_port
from evhost.secretfile import write_secret_file


def read_until(fd: int, word: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while word not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen


def test_a_monitor_with_a_closed_output_and_no_central_stops_on_sigterm(tmp_path):
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens: Engine and Central unreachable
    secret = write_secret_file(tmp_path / "cp-secret", "s3cret")
    argv = [bin_path("evcharge"), "monitor", "--cp-id", "CP1", "--secret-file", str(secret),
            "--engine", nowhere, "--central", nowhere, "--outbox", str(tmp_path / "outbox.db"),
            "--health-interval", "0.2", "--engine-timeout", "0.5", "--backoff-base", "0.1",
            "--backoff-cap", "0.3", "--engine-backoff-cap", "0.3", "--panel"]
    reader, writer = os.pipe()
    proc = subprocess.Popen(argv, stdout=writer, stderr=writer, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    os.close(writer)
    try:
        seen = read_until(reader, b"cannot connect to Central", timeout=15)
        assert b"cannot connect to Central" in seen, seen.decode(errors="replace")
        os.close(reader)  # the reader goes away: every later write hits EPIPE
        reader = -1
        time.sleep(1.5)  # panel redraws and reconnect warnings meet the closed pipe
        assert proc.poll() is None, f"the Monitor died with its output (rc {proc.returncode})"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        assert time.monotonic() - started < 5
    finally:
        if reader >= 0:
            os.close(reader)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
