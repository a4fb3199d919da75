"""--http as an operator meets it: HTTPS with the TCP listener's certificate, the
plaintext-off-loopback rule, a port already taken: one line, never a traceback."""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import time
import uuid

import pytest
from webkit import bearer

from evharness.network import Network
from evharness.procs import bin_path
from evharness.spec import CpSpec, NetworkSpec


def test_with_tls_the_console_and_api_speak_https_with_centrals_certificate(
        procs, tmp_path, kafka_bootstrap):
    spec = NetworkSpec(tmp_path / "n", cps=[CpSpec("CP1")], drivers=[], kafka=kafka_bootstrap,
                       kafka_namespace="t" + uuid.uuid4().hex[:10] + ".", tls=True, http=True)
    net = Network(spec, group=procs)
    try:
        net.start()
        assert net.http_url.startswith("https://")
        conn = http.client.HTTPSConnection("127.0.0.1", net.http_port, timeout=10,
                                           context=net.tls.context())
        conn.request("GET", "/api/v1/cps", headers=bearer(spec.admin_token))
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())[0]["state"] == "AVAILABLE"
        conn.request("POST", "/api/v1/login", body=json.dumps({"token": spec.admin_token}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        cookie = resp.getheader("Set-Cookie")
        assert resp.status == 200 and "Secure" in cookie and "HttpOnly" in cookie
        conn.close()
        # Plaintext on the TLS port gets no answer.
        plain = http.client.HTTPConnection("127.0.0.1", net.http_port, timeout=5)
        with pytest.raises((ConnectionError, http.client.HTTPException, ssl.SSLError, OSError)):
            plain.request("GET", "/api/v1/openapi.json")
            plain.getresponse().read()
    finally:
        net.close()


def central(tmp_path, *args: str) -> subprocess.CompletedProcess:
    argv = [bin_path("evcharge"), "central", "--listen", "127.0.0.1:0", "--db",
            str(tmp_path / "c.db"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_plaintext_http_off_loopback_is_refused_in_one_line(tmp_path):
    done = central(tmp_path, "--http", "0.0.0.0:8080")
    assert done.returncode == 2
    assert done.stderr.startswith("evcharge central: error: refusing to listen on 0.0.0.0")
    assert "Traceback" not in done.stderr
    done = central(tmp_path, "--http", "nohost")
    assert done.returncode == 2 and "--http" in done.stderr and "Traceback" not in done.stderr


def test_a_taken_web_port_stops_central_with_one_line(tmp_path, kafka_bootstrap, kafka_ns):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = central(tmp_path, "--kafka", kafka_bootstrap, "--http", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert f"cannot listen for the web console on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_strangers_on_the_web_port_are_bounded(procs, tmp_path, kafka_bootstrap, kafka_ns):
    """A request whose headers trickle in is closed after --auth-timeout, and one
    address holds at most --max-connections-per-address connections; an honest
    request is answered meanwhile."""
    from evharness.procs import free_port, wait_until

    port = free_port()
    hub = procs.evcharge("central", ["central", "--listen", "127.0.0.1:0", "--db",
                                     str(tmp_path / "c.db"), "--kafka", kafka_bootstrap,
                                     "--http", f"127.0.0.1:{port}", "--auth-timeout", "1",
                                     "--cap-loopback", "--max-connections-per-address", "3"])
    wait_until(lambda: "ready listening" in hub.log() or not hub.alive(), timeout=30,
               what="Central with --http")

    def openapi_status() -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/api/v1/openapi.json")
        status = conn.getresponse().status
        conn.close()
        return status

    slow = socket.create_connection(("127.0.0.1", port), timeout=5)
    slow.sendall(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 4:  # one header byte every 0.2 s
        try:
            slow.sendall(b"X")
        except OSError:
            closed = True
            break
        time.sleep(0.2)
    if not closed:
        slow.settimeout(2)
        try:
            closed = slow.recv(1) == b""
        except OSError:
            closed = True
    took = time.monotonic() - started
    slow.close()
    assert closed and took < 3.5, took
    assert openapi_status() == 200

    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
    try:
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra.settimeout(3)
        try:
            assert extra.recv(1) == b""  # closed at once by the cap
        except ConnectionResetError:
            pass
        extra.close()
    finally:
        for sock in held:
            sock.close()
    wait_until(lambda: openapi_status() == 200, timeout=5, what="a slot freed")
    assert "Traceback" not in hub.log()
