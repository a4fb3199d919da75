"""TLS on Central's port: real Central, Monitor, Driver and admin processes with
certificates from `evcharge pki`, over real TCP.

Plaintext to a TLS Central gets no answer; --ca clients work; a wrong CA is
refused with one line; a plaintext listener off loopback needs --insecure.
"""
from __future__ import annotations

import importlib.util
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from central_testkit import secret_of

from evcentral.admin_client import AdminClient
from evharness.procs import bin_path, free_port, wait_until
from evhost.secretfile import write_secret_file
from evhost.tlsclient import client_context
from evwire import encode_frame
from evwire.auth import make_auth_request


def _monitor_kit():
    """The Monitor tests' fake Engine and argument builder (tests/monitor/conftest.py)."""
    path = Path(__file__).parents[1] / "monitor" / "conftest.py"
    spec = importlib.util.spec_from_file_location("monitor_testkit_for_tls", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evcharge(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path("evcharge"), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA with a server certificate for 127.0.0.1 and a client one for CP1, and an
    unrelated CA (the "wrong CA")."""
    good, wrong = tmp_path_factory.mktemp("ca"), tmp_path_factory.mktemp("wrong-ca")
    for argv in (["init", "--dir", str(good)], ["init", "--dir", str(wrong)],
                 ["server", "--dir", str(good), "--name", "central.test", "--ip", "127.0.0.1"],
                 ["client", "--dir", str(good), "--name", "CP1"]):
        done = evcharge("pki", *argv)
        assert done.returncode == 0, done.stderr
    return {"ca": good / "ca.pem", "cert": good / "central.test.pem",
            "key": good / "central.test.key", "client_cert": good / "CP1.pem",
            "client_key": good / "CP1.key", "wrong_ca": wrong / "ca.pem"}


@pytest.fixture
def tls_central(central_factory, pki):
    return central_factory("CP1", "CP2", args=(
        "--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"]),
        "--tls-client-ca", str(pki["ca"])))


def test_pki_keys_are_owner_only(pki):
    for key in ("key", "client_key"):
        assert stat.S_IMODE(pki[key].stat().st_mode) == 0o600
    assert stat.S_IMODE((pki["ca"].parent / "ca.key").stat().st_mode) == 0o600
    again = evcharge("pki", "init", "--dir", str(pki["ca"].parent))
    assert again.returncode == 5  # cliout.EXIT_CONFIG: a file in the way
    assert again.stderr.startswith("evcharge pki: error: ")
    assert again.stderr.strip().count("\n") == 0 and "exists" in again.stderr


def test_plaintext_gets_no_answer(tls_central):
    """A plaintext auth_request to a TLS Central: no CBOR reply, the connection closed."""
    sock = socket.create_connection((tls_central.host, tls_central.port), timeout=10)
    try:
        sock.sendall(encode_frame(make_auth_request("CP1", secret_of("CP1"))))
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        else:
            pytest.fail("a TLS Central kept a plaintext connection open")
        # Whatever came back (at most a TLS alert record, type 21) is no CBOR frame.
        assert received == b"" or received[0] == 21, received[:16]
    finally:
        sock.close()
    assert tls_central.proc.alive()


def cp_status(central, pki, cp_id: str) -> str:
    """CP status by an admin connection over TLS (AdminClient with --ca's context)."""
    ctx = client_context(str(pki["ca"]))
    with AdminClient(central.host, central.port, central.token, ssl_context=ctx) as admin:
        rows = admin.command("list_cps")["data"]
    return next(r["status"] for r in rows if r["cp_id"] == cp_id)


def _admin(central, *args: str) -> subprocess.CompletedProcess:
    token = write_secret_file(Path(central.db_path).with_name("admin-token-cli"), central.token)
    return evcharge("admin", "--central", f"{central.host}:{central.port}",
                    "--admin-token-file", str(token), *args, "--json", "list")


def test_admin_with_ca_and_wrong_ca(tls_central, pki):
    done = _admin(tls_central, "--ca", str(pki["ca"]))
    assert done.returncode == 0, done.stderr
    assert '"CP1"' in done.stdout
    wrong = _admin(tls_central, "--ca", str(pki["wrong_ca"]))
    assert wrong.returncode == 3
    line = wrong.stderr.strip()
    assert "\n" not in line and line.startswith("evcharge admin: error: TLS"), line
    assert "certificate verify failed" in line
    assert "Traceback" not in wrong.stderr


def test_driver_with_ca_and_wrong_ca(tls_central, pki, tmp_path, kafka_bootstrap):
    secret = write_secret_file(tmp_path / "d1-secret", tls_central.add_driver("D1"))
    base = ["driver", "--id", "D1", "--secret-file", str(secret),
            "--central", f"{tls_central.host}:{tls_central.port}", "--kafka", kafka_bootstrap,
            "--state-dir", str(tmp_path / "state"), "--timeout", "5"]
    done = evcharge(*base, "--ca", str(pki["ca"]), "--json", "list")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "CP1" in done.stdout
    wrong = evcharge(*base, "--ca", str(pki["wrong_ca"]), "list")
    assert wrong.returncode == 5, wrong.stderr + wrong.stdout  # configuration (--ca)
    text = (wrong.stderr + wrong.stdout).strip()
    assert "certificate verify failed" in text and "Traceback" not in text
    assert len(text.splitlines()) == 1, text


def test_monitor_with_ca_and_client_certificate(tls_central, pki, procs, tmp_path):
    kit = _monitor_kit()
    engine = kit.FakeEngine()
    try:
        central_addr = f"{tls_central.host}:{tls_central.port}"
        good = procs.evcharge("monitor", kit.monitor_args(
            engine, central_addr, tmp_path / "outbox.sqlite3",
            "--ca", str(pki["ca"]), "--tls-cert", str(pki["client_cert"]),
            "--tls-key", str(pki["client_key"]), secret=secret_of("CP1")))
        wait_until(lambda: cp_status(tls_central, pki, "CP1") != "DISCONNECTED",
                   timeout=20, what="CP1 connected over TLS")
        # Central shows the CP from its auth on; the Monitor logs once registered
        wait_until(lambda: "registered with Central" in good.log(), timeout=20,
                   what="the Monitor registered")
    finally:
        engine.close()


def test_monitor_with_wrong_ca_is_refused(tls_central, pki, procs, tmp_path):
    kit = _monitor_kit()
    engine = kit.FakeEngine()
    try:
        mon = procs.evcharge("monitor", kit.monitor_args(
            engine, f"{tls_central.host}:{tls_central.port}", tmp_path / "outbox.sqlite3",
            "--ca", str(pki["wrong_ca"]), secret=secret_of("CP1")))
        wait_until(lambda: "certificate verify failed" in mon.log(), timeout=20,
                   what="the Monitor saying why TLS failed")
        assert mon.alive() and "registered with Central" not in mon.log()
        assert "Traceback" not in mon.log()
    finally:
        engine.close()


def test_client_certificate_from_another_ca_is_refused(tls_central, pki, tmp_path):
    import ssl

    other = tmp_path / "other"
    assert evcharge("pki", "init", "--dir", str(other)).returncode == 0
    assert evcharge("pki", "client", "--dir", str(other), "--name", "CP1").returncode == 0

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(pki["ca"]))
    ctx.load_cert_chain(str(other / "CP1.pem"), str(other / "CP1.key"))
    with socket.create_connection((tls_central.host, tls_central.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                # TLS 1.3: the server's refusal arrives with the first read.
                tls.sendall(encode_frame(make_auth_request("CP1", secret_of("CP1"))))
                if not tls.recv(1):
                    raise ConnectionResetError("closed")


def test_client_certificate_speaks_only_for_the_cp_it_names(tls_central, pki):
    """CP1's certificate with CP2's (right) secret is refused like a wrong secret;
    with CP1's secret it is accepted."""
    from evwire import FrameDecoder

    ctx = client_context(str(pki["ca"]))
    ctx.load_cert_chain(str(pki["client_cert"]), str(pki["client_key"]))

    def auth_as(cp_id: str) -> dict:
        with socket.create_connection((tls_central.host, tls_central.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(encode_frame(make_auth_request(cp_id, secret_of(cp_id))))
                decoder = FrameDecoder()
                while True:
                    data = tls.recv(4096)
                    assert data, "closed without an answer"
                    replies = decoder.feed(data)
                    if replies:
                        return replies[0]

    assert auth_as("CP1")["status"] == "success"
    refused = auth_as("CP2")
    assert refused["status"] == "failure" and refused["reason"] == "bad_credentials", refused


def test_plaintext_off_loopback_needs_insecure(procs, tmp_path, kafka_bootstrap):
    db = str(tmp_path / "central.db")
    refused = evcharge("central", "--listen", f"0.0.0.0:{free_port()}", "--db", db,
                       "--kafka", kafka_bootstrap, timeout=30)
    assert refused.returncode == 2
    line = refused.stderr.strip()
    assert "\n" not in line and "refusing to listen on 0.0.0.0 without TLS" in line, line
    port = free_port()
    ok = procs.evcharge("central", ["central", "--listen", f"0.0.0.0:{port}", "--db", db,
                                    "--kafka", kafka_bootstrap, "--insecure"])
    wait_until(lambda: "ready listening" in ok.log() or not ok.alive(), timeout=30,
               what="Central with --insecure")
    assert ok.alive(), ok.log()


@pytest.mark.parametrize("args, words, code", [
    (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"],
     "no such file", 5),  # cliout.EXIT_CONFIG: the files
    (["--tls-cert", "CERT"], "--tls-cert and --tls-key go together", 2),  # the command line
    (["--tls-cert", "KEY", "--tls-key", "CERT"], "do not load", 5),
])
def test_bad_tls_options_are_one_line(args, words, code, pki, tmp_path):
    args = [str(pki["cert"]) if a == "CERT" else str(pki["key"]) if a == "KEY" else a
            for a in args]
    done = evcharge("central", "--listen", f"127.0.0.1:{free_port()}", "--db",
                    str(tmp_path / "c.db"), *args, timeout=30)
    assert done.returncode == code
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith("evcharge central: error:") and words in line, \
        line
