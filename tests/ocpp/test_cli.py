"""`evcharge central --ocpp`: bad settings get one line, never a traceback."""
from __future__ import annotations

import socket
import subprocess

from evharness.procs import bin_path, free_port


def central(tmp_path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path("evcharge"), "central", "--listen",
                           f"127.0.0.1:{free_port()}", "--db", str(tmp_path / "c.db"), *args],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_plaintext_ocpp_off_loopback_is_refused(tmp_path):
    done = central(tmp_path, "--ocpp", "0.0.0.0:9000")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "without TLS" in done.stderr


def test_a_bad_ocpp_address_is_a_usage_error(tmp_path):
    done = central(tmp_path, "--ocpp", "nowhere")
    assert done.returncode == 2 and "--ocpp" in done.stderr and "Traceback" not in done.stderr


def test_an_ocpp_port_in_use_gets_one_line(tmp_path, kafka_bootstrap, kafka_ns):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = central(tmp_path, "--kafka", kafka_bootstrap, "--ocpp", f"127.0.0.1:{port}")
    assert done.returncode == 1, done.stderr
    assert f"cannot listen for OCPP on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
