"""Driver identity at the real Central: every driver proves who it is, speaks only for
itself, and guessing secrets gets slower (real `evcharge central`, real `evcharge
driver` commands, raw TCP peers for what the CLI never sends)."""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time

from driver_testkit import driver_secret, json_lines

import evwire
from evharness.procs import bin_path, wait_until
from evwire import make
from evwire import types as t
from evwire.auth import make_driver_auth_request
from evwire.compat import unix_time


class Peer:
    """A raw TCP peer of Central: one framed request, its answer (None once closed)."""

    def __init__(self, address: str):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=15)
        self.decoder = evwire.FrameDecoder(1 << 20)

    def request(self, msg: dict) -> dict | None:
        self.sock.sendall(evwire.encode_frame(msg))
        while True:
            data = self.sock.recv(65536)
            if not data:
                return None
            for answer in self.decoder.feed(data):
                if answer.get("message_id") == msg["message_id"]:
                    return answer

    def auth(self, driver_id: str, secret: str) -> dict | None:
        return self.request(make_driver_auth_request(driver_id, secret))

    def closed(self, timeout: float = 5.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()


def _as(net, driver_id: str) -> Peer:
    net.secret_file(driver_id)  # provisioned at Central
    peer = Peer(net.central)
    reply = peer.auth(driver_id, driver_secret(driver_id))
    assert reply["type"] == t.AUTH_RESPONSE and reply["status"] == t.SUCCESS, reply
    return peer


def test_a_driver_sees_stops_and_charges_only_as_itself(real_network):
    net = real_network("CP1", "CP2", car_kwh=50)
    d1 = net.start_driver("D1", "--json", "charge", "CP1", name="driver-D1")
    wait_until(lambda: '"progress"' in d1.log(), timeout=20, what="D1 charging")
    events = json_lines("\n".join(line for line in d1.log().splitlines()
                                  if line.startswith("{")))
    session_id = next(e["session_id"] for e in events if e.get("event") == "accepted")

    # The real CLI of D2: no session of D1's is visible or stoppable.
    history = net.driver("D2", "--json", "history")
    assert history.returncode == 0, history.stderr
    assert json_lines(history.stdout)[-1]["sessions"] == []
    stop = net.driver("D2", "stop", "--no-wait")
    assert stop.returncode == 1 and "no running session" in stop.stderr

    # D2's credential, D1's name: refused before anything is asked.
    as_d1 = net.driver_argv("D1", "history")
    as_d1[as_d1.index("--secret-file") + 1] = str(net.secret_file("D2"))
    impostor = subprocess.run(as_d1, capture_output=True, text=True, timeout=60)
    assert impostor.returncode == 4 and "refused driver D1" in impostor.stderr

    # What the CLI never sends: requests naming another driver on D2's connection.
    d2 = _as(net, "D2")
    for msg in (make(t.SESSION_HISTORY_REQUEST, driver_id="D1", timestamp=unix_time()),
                make(t.CHARGE_REQUEST, cp_id="CP2", driver_id="D1", timestamp=unix_time()),
                make(t.STOP_CHARGING_REQUEST, cp_id="CP1", session_id=session_id,
                     driver_id="D1", timestamp=unix_time())):
        reply = d2.request(msg)
        assert reply["type"] == t.ERROR_RESPONSE and reply["code"] == "driver_mismatch", reply
        assert "authenticated as driver D2, not D1" in reply["error"]
    stolen = d2.request(make(t.STOP_CHARGING_REQUEST, cp_id="CP1", session_id=session_id,
                             timestamp=unix_time()))  # driver_id left out: D2's own
    assert stolen["status"] == t.FAILURE and stolen["reason"] == "not_your_session"
    d2.close()
    assert d1.alive(), "D1's session must be untouched"
    own = net.driver("D1", "stop")
    assert own.returncode == 0, own.stderr
    assert d1.popen.wait(30) == 0, d1.log()


def test_wrong_missing_or_unknown_credentials_are_refused_alike(real_network):
    net = real_network("CP1")
    net.secret_file("D1")
    wrong = net.state_dir.parent / "wrong-secret"
    wrong.write_text("not-the-secret\n")
    wrong.chmod(0o600)
    argv = net.driver_argv("D1", "list")
    argv[argv.index("--secret-file") + 1] = str(wrong)
    refused = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 4, refused.stderr  # Central refused (evhost.cliout)
    assert refused.stderr.startswith("evcharge driver: error: Central refused driver D1: "
                                     "authentication failed")

    argv.remove("--secret-file")
    argv.remove(str(wrong))
    missing = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 5 and "EVCHARGE_DRIVER_SECRET" in missing.stderr  # config
    assert "Traceback" not in missing.stderr + refused.stderr

    wrong.chmod(0o644)  # a secret others may read is not used
    argv += ["--secret-file", str(wrong)]
    loose = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert loose.returncode == 5 and "chmod 600" in loose.stderr

    # Unknown driver and wrong secret: the same reply, word for word.
    replies = []
    for driver_id, secret in (("D404", "anything"), ("D1", "not-the-secret")):
        peer = Peer(net.central)
        reply = peer.auth(driver_id, secret)
        assert peer.closed(), "a refused auth closes the connection"
        peer.close()
        replies.append({k: v for k, v in reply.items() if k != "message_id"})
    assert replies[0] == replies[1]
    assert replies[0]["status"] == t.FAILURE and replies[0]["reason"] == "bad_credentials"

    # Every failure is in the audit trail with the claimed id and the real cause.
    db = sqlite3.connect(net.db)
    rows = db.execute("SELECT address, who, action, result, detail FROM audit").fetchall()
    db.close()
    assert ("127.0.0.1", "driver:D404", "auth", "refused", "unknown_driver") in rows
    assert ("127.0.0.1", "driver:D1", "auth", "refused", "bad_mac") in rows


def test_a_driver_request_before_auth_is_refused(real_network):
    net = real_network("CP1")
    net.secret_file("D1")
    peer = Peer(net.central)
    for msg in (make(t.AVAILABLE_CPS_REQUEST, driver_id="D1", timestamp=unix_time()),
                make(t.CHARGE_REQUEST, cp_id="CP1", driver_id="D1", timestamp=unix_time())):
        reply = peer.request(msg)
        assert reply["type"] == t.ERROR_RESPONSE and reply["code"] == "not_authenticated"
        assert "auth_request" in reply["error"]
    # The connection stays usable: authenticate, then ask.
    assert peer.auth("D1", driver_secret("D1"))["status"] == t.SUCCESS
    listed = peer.request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D1", timestamp=unix_time()))
    assert listed["status"] == t.SUCCESS and listed["charging_points"][0]["cp_id"] == "CP1"
    peer.close()


def test_repeated_wrong_guesses_get_slower(real_network):
    net = real_network("CP1")
    net.secret_file("D1")
    took = []
    for guess in range(9):
        peer = Peer(net.central)
        started = time.monotonic()
        reply = peer.auth("D1", f"guess-{guess}")
        took.append(time.monotonic() - started)
        peer.close()
        assert reply["reason"] == "bad_credentials"
    # A few free failures, then every answer waits longer (0.25 s, 0.5 s, 1 s, 2 s).
    assert max(took[:5]) < 0.25, took
    assert took[6] > took[5] >= 0.2 and took[8] >= 1.8, took
    # The right secret from the same address also waits: the guesser learns nothing early.
    peer = Peer(net.central)
    started = time.monotonic()
    assert peer.auth("D1", driver_secret("D1"))["status"] == t.SUCCESS
    assert time.monotonic() - started >= 1.8
    peer.close()


def test_provisioning_prints_a_generated_secret_once_and_rotation_replaces_it(real_network):
    net = real_network("CP1")
    central = [bin_path("evcharge"), "central"]
    net.provisioned.add("D9")  # provisioned here, by hand, not by the fixture

    def driver_with(secret: str) -> subprocess.CompletedProcess:
        argv = net.driver_argv("D9", "list")
        at = argv.index("--secret-file")
        del argv[at:at + 2]  # the secret comes from the environment here
        return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "EVCHARGE_DRIVER_SECRET": secret})

    added = subprocess.run([*central, "add-driver", "D9", "--db", net.db],
                           capture_output=True, text=True, timeout=30)
    assert added.returncode == 0, added.stderr
    old = next(line.split(": ", 1)[1] for line in added.stdout.splitlines()
               if line.startswith("secret: "))
    listed = driver_with(old)
    assert listed.returncode == 0, listed.stderr

    new = net.state_dir.parent / "d9-new.secret"
    new.write_text("the-new-secret\n")
    new.chmod(0o644)
    loose = subprocess.run([*central, "set-driver-secret", "D9", "--db", net.db,
                            "--secret-file", str(new)], capture_output=True, text=True)
    assert loose.returncode == 5 and "chmod 600" in loose.stderr  # config (cliout)
    assert driver_with(old).returncode == 0, "a refused rotation changes nothing"
    new.chmod(0o600)
    rotated = subprocess.run([*central, "set-driver-secret", "D9", "--db", net.db,
                              "--secret-file", str(new)], capture_output=True, text=True)
    assert rotated.returncode == 0, rotated.stderr
    assert "the-new-secret" not in rotated.stdout  # a secret from a file is never printed
    stale = driver_with(old)
    assert stale.returncode == 4 and "refused driver D9" in stale.stderr
    assert driver_with("the-new-secret").returncode == 0
    unknown = subprocess.run([*central, "set-driver-secret", "D404", "--db", net.db],
                             capture_output=True, text=True)
    assert unknown.returncode == 4 and "unknown driver D404" in unknown.stderr  # refused
