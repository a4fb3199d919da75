"""Fixtures for the Monitor's tests: a fake Engine and a fake Central (real TCP
servers in threads, speaking the real wire, recording what they receive and
answering as a test configures them), and a starter for the real Monitor process.
"""
from __future__ import annotations

import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# kafka_testkit and friends (--import-mode=importlib adds no test folder to sys.path)
sys.path.insert(0, str(Path(__file__).parent))

import evwire
from evharness.procs import wait_until
from evhost.secretfile import write_secret_file
from evwire import make
from evwire import types as t
from evwire.auth import auth_mac


class FakePeer:
    """Accepts one connection at a time on 127.0.0.1:`port` (0 = any free port)."""

    name = "peer"

    def __init__(self, port: int = 0):
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(4)
        self.port = self.server.getsockname()[1]
        self.received: list[dict] = []
        self.connections = 0
        self.conn: socket.socket | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._write_lock = threading.Lock()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            old, self.conn = self.conn, conn
            if old is not None:
                old.close()
            with self._cond:
                self.connections += 1
                self._cond.notify_all()
            threading.Thread(target=self._read_loop, args=(conn,), daemon=True).start()

    def _read_loop(self, conn: socket.socket) -> None:
        decoder = evwire.FrameDecoder()
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                break
            if not data:
                break
            for msg in decoder.feed(data):
                with self._cond:
                    self.received.append(msg)
                    self._cond.notify_all()
                try:
                    reply = self.on_message(msg)
                    if reply is not None:
                        self.send(reply, conn)
                except OSError:
                    return  # the test closed this side meanwhile
        if self.conn is conn:
            self.conn = None

    def on_message(self, msg: dict) -> dict | None:
        return None

    def send(self, msg: dict, conn: socket.socket | None = None) -> None:
        self.send_raw(evwire.encode_frame(msg), conn)

    def send_raw(self, data: bytes, conn: socket.socket | None = None) -> None:
        target = conn or self.wait_connected()
        with self._write_lock:
            target.sendall(data)

    def wait_connected(self, timeout: float = 10.0, count: int = 1) -> socket.socket:
        with self._cond:
            ok = self._cond.wait_for(lambda: self.connections >= count and self.conn, timeout)
        if not ok:
            raise TimeoutError(f"{self.name}: no connection #{count} within {timeout}s")
        return self.conn

    def wait_for(self, msg_type: str, timeout: float = 10.0, since: int = 0,
                 where: Callable[[dict], bool] = lambda m: True) -> dict:
        """The first message of `msg_type` at index >= since matching `where`."""
        deadline = time.monotonic() + timeout

        def find():
            for msg in self.received[since:]:
                if msg.get("type") == msg_type and where(msg):
                    return msg
            return None

        with self._cond:
            while True:
                found = find()
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [m.get("type") for m in self.received[since:]][-20:]
                    raise TimeoutError(f"{self.name}: no {msg_type} within {timeout}s "
                                       f"(last seen: {seen})")
                self._cond.wait(left)

    def of_type(self, msg_type: str, since: int = 0) -> list[dict]:
        with self._cond:
            return [m for m in self.received[since:] if m.get("type") == msg_type]

    def mark(self) -> int:
        """An index for wait_for(since=...): only messages received from now on."""
        with self._cond:
            return len(self.received)

    def drop_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def close(self) -> None:
        self._closed = True
        self.server.close()
        self.drop_connection()


class FakeEngine(FakePeer):
    """Answers health checks (health: ok / ko / silent) and commands (command_reply)."""

    name = "fake engine"

    def __init__(self, port: int = 0, cp_id: str = "CP1"):
        self.cp_id = cp_id
        self.health = "ok"
        self.fault_type = "meter_timeout"
        self.session_id: str | None = None
        self.command_reply: Callable[[dict], dict | None] = self.accept_command
        super().__init__(port)

    def on_message(self, msg: dict) -> dict | None:
        if msg["type"] == t.HEALTH_CHECK_REQUEST:
            if self.health == "silent":
                return None
            ok = self.health == "ok"
            return make(t.HEALTH_CHECK_RESPONSE, msg["message_id"], status=t.SUCCESS,
                        engine_status=t.ENGINE_OK if ok else t.ENGINE_KO,
                        is_charging=self.session_id is not None, session_id=self.session_id,
                        fault_type=None if ok else self.fault_type)
        if msg["type"] in (t.START_CHARGING_COMMAND, t.STOP_CHARGING_COMMAND):
            return self.command_reply(msg)
        return None

    def accept_command(self, msg: dict) -> dict:
        """Like the Engine: start -> success; stop -> success, then the session's completion."""
        answer = make(t.COMMAND_RESPONSE, msg["message_id"], status=t.SUCCESS, message="ok",
                      session_id=msg["session_id"], cp_id=self.cp_id)
        if msg["type"] == t.START_CHARGING_COMMAND:
            self.session_id = msg["session_id"]
            return answer
        self.session_id = None
        self.send(answer)
        return self.completion(msg["session_id"])

    def charging_data(self, session_id: str, n: int, **extra) -> dict:
        return make(t.CHARGING_DATA, cp_id=self.cp_id, session_id=session_id,
                    energy_consumed_kwh=round(n * 0.003, 3), total_cost=round(n * 0.001, 2),
                    charging_rate=11.0, timestamp=int(time.time()), driver_id="D1", **extra)

    def completion(self, session_id: str, kwh: float = 1.5) -> dict:
        return make(t.CHARGE_COMPLETION, cp_id=self.cp_id, session_id=session_id,
                    energy_consumed_kwh=kwh, total_cost=round(kwh * 0.3, 2), reason="stopped",
                    timestamp=int(time.time()), driver_id="D1")


class FakeCentral(FakePeer):
    """Checks the auth MAC against `secret`, registers, answers heartbeats."""

    name = "fake central"

    def __init__(self, port: int = 0, secret: str = "s3cret"):
        self.secret = secret
        self.register_cp_status: str | None = None
        self.answer_heartbeats = True
        super().__init__(port)

    def on_message(self, msg: dict) -> dict | None:
        if msg["type"] == t.AUTH_REQUEST:
            expected = auth_mac(self.secret, msg["cp_id"], msg["timestamp"], msg["nonce"])
            if msg["mac"] == expected:
                return make(t.AUTH_RESPONSE, msg["message_id"], status=t.SUCCESS, message="ok")
            return make(t.AUTH_RESPONSE, msg["message_id"], status=t.FAILURE,
                        message="bad MAC")
        if msg["type"] == t.REGISTER_REQUEST:
            extra = {"cp_status": self.register_cp_status} if self.register_cp_status else {}
            return make(t.REGISTER_RESPONSE, msg["message_id"], status=t.SUCCESS,
                        message="registered", **extra)
        if msg["type"] == t.HEARTBEAT_REQUEST and self.answer_heartbeats:
            return make(t.HEARTBEAT_RESPONSE, msg["message_id"], status=t.SUCCESS)
        return None

    def command(self, msg_type: str, **fields) -> dict:
        msg = make(msg_type, cp_id="CP1", **fields)
        self.send(msg)
        return msg


def monitor_args(engine: FakePeer | str, central: FakePeer | str, outbox: os.PathLike,
                 *extra: str, secret: str = "s3cret") -> list[str]:
    """`evcharge monitor` arguments with short timers for tests; the secret goes in a
    0600 file beside the outbox (never on the command line)."""
    engine_addr = engine if isinstance(engine, str) else engine.address
    central_addr = central if isinstance(central, str) else central.address
    secret_file = write_secret_file(Path(outbox).with_name("cp-secret"), secret)
    return ["monitor", "--cp-id", "CP1", "--secret-file", str(secret_file),
            "--location", "Test bay 1",
            "--max-kw", "22", "--engine", engine_addr, "--central", central_addr,
            "--outbox", str(outbox), "--health-interval", "0.2", "--engine-timeout", "0.5",
            "--heartbeat-interval", "0.2", "--backoff-base", "0.1", "--backoff-cap", "0.5",
            "--engine-backoff-cap", "0.3", "--command-timeout", "2", *extra]


def outbox_rows(path: os.PathLike) -> list[tuple[str, str, bytes]]:
    """(kind, message_id, payload) of every row, in order, read by a separate connection."""
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT kind, message_id, payload FROM outbox ORDER BY seq").fetchall()
    except sqlite3.OperationalError:
        return []  # the Monitor has not created the table yet
    finally:
        db.close()


@pytest.fixture
def fake_engine():
    engine = FakeEngine()
    yield engine
    engine.close()


@pytest.fixture
def fake_central():
    central = FakeCentral()
    yield central
    central.close()


@pytest.fixture
def peers():
    """peers(FakeCentral or FakeEngine, port): a fake on a chosen port, closed after the test."""
    made: list[FakePeer] = []

    def make_peer(kind: str, port: int) -> FakePeer:
        peer = {"central": FakeCentral, "engine": FakeEngine}[kind](port)
        made.append(peer)
        return peer

    yield make_peer
    for peer in made:
        peer.close()


@pytest.fixture
def outbox_path(tmp_path):
    return tmp_path / "outbox.sqlite3"


@pytest.fixture
def read_outbox(outbox_path):
    """read_outbox() -> [(kind, message_id, payload)] of the test Monitor's outbox."""
    return lambda: outbox_rows(outbox_path)


@pytest.fixture
def start_monitor(procs, outbox_path):
    """start_monitor(engine, central, *extra_flags, env=..., wait_ready=True) -> Proc."""

    def start(engine, central, *extra: str, env: dict | None = None, wait_ready: bool = True,
              secret: str = "s3cret"):
        proc = procs.evcharge("monitor", monitor_args(engine, central, outbox_path, *extra,
                                                      secret=secret), env=env)
        if wait_ready:
            wait_until(lambda: "ready:" in proc.log() or not proc.alive(), timeout=15,
                       what="monitor ready")
            assert proc.alive(), proc.log()
        return proc

    return start
