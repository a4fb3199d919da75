"""Test clients for Central: framed-CBOR TCP peers (Monitor, Driver, admin) and Kafka taps.

Everything here talks to a real Central process over real sockets and a real
broker; nothing is mocked.
"""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from evcentral.db import Database
from evharness.procs import ProcessGroup, free_port, wait_until
from evkafka import names
from evkafka.client import AssignedConsumer, ensure_topics, make_producer
from evwire import FrameDecoder, dumps, encode_frame, loads, make
from evwire import types as t
from evwire.auth import make_auth_request, make_driver_auth_request, sign_record
from evwire.compat import unix_time

ADMIN_TOKEN = "test-admin-token"
# The testkit provisions CP and driver secrets by this rule, so a tap can sign as them.
# Central in tests runs as if the CPs' hardware were this much faster than real time, so
# that kWh produced within seconds are not disputed (a test of the energy check sets 1).
TEST_TIME_SCALE = 3600


def secret_of(ident: str) -> str:
    return f"secret-of-{ident}"


class WireClient:
    """A TCP peer of Central; a reader thread collects every message it receives."""

    def __init__(self, host: str, port: int, max_len: int = 1 << 20):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.settimeout(None)
        self.decoder = FrameDecoder(max_len)
        self.inbox: list[dict] = []
        self.cond = threading.Condition()
        self.eof = False
        self.send_lock = threading.Lock()
        self.ignore_types: set[str] = set()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.eof = True
                    self.cond.notify_all()
                    return
                for msg in self.decoder.feed(data):
                    if msg.get("type") not in self.ignore_types:
                        self.inbox.append(msg)
                self.cond.notify_all()

    def send(self, msg: dict) -> dict:
        self.send_raw(encode_frame(msg))
        return msg

    def send_raw(self, data: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(data)

    def recv(self, match=None, timeout: float = 5.0) -> dict:
        """The first received message for which match(msg) holds (removed from the inbox)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, msg in enumerate(self.inbox):
                    if match is None or match(msg):
                        return self.inbox.pop(i)
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise TimeoutError(f"no matching message (eof={self.eof}, inbox "
                                       f"{[m.get('type') for m in self.inbox]})")
                self.cond.wait(left)

    def recv_type(self, msg_type: str, timeout: float = 5.0) -> dict:
        return self.recv(lambda m: m.get("type") == msg_type, timeout)

    def request(self, msg: dict, timeout: float = 5.0) -> dict:
        self.send(msg)
        return self.recv(lambda m: m.get("message_id") == msg["message_id"], timeout)

    def wait_closed(self, timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.eof, timeout)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FakeMonitor(WireClient):
    """Plays a charge point's Monitor: auth, register, heartbeats, command answers."""

    def __init__(self, host: str, port: int, cp_id: str, secret: str):
        super().__init__(host, port)
        self.cp_id = cp_id
        self.secret = secret
        self.status = t.CP_AVAILABLE
        self.session_id: str | None = None
        self._beating = threading.Event()

    def auth(self, **kw) -> dict:
        return self.request(make_auth_request(self.cp_id, kw.pop("secret", self.secret), **kw))

    def register(self, max_kw: float = 22.0, location: str = "Test Street 1") -> dict:
        return self.request(make(t.REGISTER_REQUEST, cp_id=self.cp_id, timestamp=unix_time(),
                                 max_charging_rate_kw=max_kw, location=location))

    def connect(self, max_kw: float = 22.0) -> FakeMonitor:
        assert self.auth()["status"] == t.SUCCESS
        assert self.register(max_kw)["status"] == t.SUCCESS
        return self

    def heartbeat(self) -> dict:
        fields = {"session_id": self.session_id} if self.session_id else {}
        return self.request(make(t.HEARTBEAT_REQUEST, cp_id=self.cp_id, status=self.status,
                                 timestamp=unix_time(), **fields))

    def beat(self, interval: float = 0.3) -> FakeMonitor:
        """Heartbeats in the background (their answers are not kept)."""
        self.ignore_types.add(t.HEARTBEAT_RESPONSE)
        self._beating.set()

        def loop() -> None:
            while self._beating.is_set() and not self.eof:
                fields = {"session_id": self.session_id} if self.session_id else {}
                try:
                    self.send(make(t.HEARTBEAT_REQUEST, cp_id=self.cp_id, status=self.status,
                                   timestamp=unix_time(), **fields))
                except OSError:
                    return
                time.sleep(interval)

        threading.Thread(target=loop, daemon=True).start()
        return self

    def stop_beating(self) -> None:
        self._beating.clear()

    def answer(self, command: dict, ok: bool = True, message: str = "") -> None:
        self.send(make(t.COMMAND_RESPONSE, command["message_id"], cp_id=self.cp_id,
                       command=command["type"], status=t.SUCCESS if ok else t.FAILURE,
                       message=message or ("started" if ok else "failed"),
                       session_id=command.get("session_id") if ok else None))

    def close(self) -> None:
        self.stop_beating()
        super().close()


class KafkaTap:
    """Produces telemetry as a Monitor would, and watches driver-events."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        ensure_topics(bootstrap, names.all_topics())
        self.producer = make_producer(bootstrap, client_id="central-test")
        self.events: list[tuple[str, dict]] = []
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self.consumer = AssignedConsumer(bootstrap, names.namespace() + "central-test-tap",
                                         [names.driver_events()])
        self.thread = threading.Thread(target=self._consume, daemon=True)
        self.thread.start()

    def _consume(self) -> None:
        while not self._stop.is_set():
            for rec in self.consumer.consume(100, timeout=0.2):
                with self.cond:
                    self.events.append((rec.key().decode(), loads(rec.value())))
                    self.cond.notify_all()

    def produce(self, topic: str, key: str, msg: dict, secret: str | None = None) -> dict:
        """msg produced keyed by key; signed (its `mac` set) when a secret is given."""
        if secret is not None:
            sign_record(msg, secret)
        self.produce_raw(topic, key.encode(), dumps(msg))
        return msg

    def produce_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.producer.produce(topic, key=key, value=value)
        assert self.producer.flush(10) == 0

    def cp_event(self, msg: dict, secret: str | None = None, sign: bool = True,
                 key: str | None = None) -> dict:
        """As the CP's Monitor produces it: keyed by cp_id, signed with its secret."""
        return self.produce(names.cp_events(), key if key is not None else msg["cp_id"], msg,
                            (secret or secret_of(msg["cp_id"])) if sign else None)

    def driver_request(self, msg: dict, secret: str | None = None, sign: bool = True) -> dict:
        """As a Driver produces it: keyed and signed by its driver (provisioned with
        CentralUnderTest.add_driver)."""
        return self.produce(names.driver_requests(), msg["driver_id"], msg,
                            (secret or secret_of(msg["driver_id"])) if sign else None)

    def matching(self, pred) -> list[tuple[str, dict]]:
        with self.cond:
            return [e for e in self.events if pred(e[0], e[1])]

    def wait_for(self, pred, timeout: float = 10.0, count: int = 1) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [e for e in self.events if pred(e[0], e[1])]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{count} matching driver event(s) not seen; have "
                                       f"{[(k, m.get('type')) for k, m in self.events]}")
                self.cond.wait(left)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.consumer.close()


def charging_data(cp_id: str, session_id: str, driver_id: str, kwh: float,
                  price: float = 0.30, rate: float = 11.0) -> dict:
    return make(t.CHARGING_DATA, cp_id=cp_id, session_id=session_id, driver_id=driver_id,
                energy_consumed_kwh=round(kwh, 3), total_cost=round(kwh * price, 2),
                charging_rate=rate, timestamp=unix_time())


def completion(cp_id: str, session_id: str, driver_id: str, kwh: float, price: float = 0.30,
               reason: str = t.REASON_EV_FULL) -> dict:
    return make(t.CHARGE_COMPLETION, cp_id=cp_id, session_id=session_id, driver_id=driver_id,
                energy_consumed_kwh=round(kwh, 3), total_cost=round(kwh * price, 2),
                reason=reason, meter_start_kwh=100.0, meter_stop_kwh=round(100.0 + kwh, 3),
                timestamp=unix_time())


class CentralUnderTest:
    """A real `evcharge central` process with its own database and port.

    db: (postgresql:// URL, key file) to run it on PostgreSQL (conftest's central_db);
    None: a SQLite file in tmp."""

    def __init__(self, procs: ProcessGroup, tmp: Path, kafka: str, *extra: str,
                 token: str | None = ADMIN_TOKEN, heartbeat_timeout: float = 3.0,
                 db: tuple[str, Path] | None = None):
        self.procs = procs
        self.tmp = tmp
        self.db_path = db[0] if db else str(tmp / "central.db")  # the file, or the URL
        self.db_key_file = str(db[1]) if db else None
        self.host = "127.0.0.1"
        self.port = free_port()
        self.kafka = kafka
        self.extra = list(extra)
        self.token = token
        self.heartbeat_timeout = heartbeat_timeout
        self.proc = None
        self.secrets: dict[str, str] = {}

    def open_db(self) -> Database:
        """Central's database, as the provisioning CLI opens it."""
        return Database(self.db_path, self.db_key_file)

    def db_args(self) -> list[str]:
        """--db (and --db-key-file) for `evcharge central ...` commands."""
        return ["--db", self.db_path] + (["--db-key-file", self.db_key_file]
                                         if self.db_key_file else [])

    def provision(self, *cp_ids: str, price: float | None = None) -> CentralUnderTest:
        db = self.open_db()
        try:
            for cp_id in cp_ids:
                self.secrets[cp_id] = secret_of(cp_id)
                db.add_cp(cp_id, self.secrets[cp_id], f"{cp_id} street", 11.0, price)
        finally:
            db.close()
        return self

    def add_driver(self, driver_id: str, card: str | None = None) -> str:
        """Provision a driver (also while Central runs) with its secret; return the secret."""
        secret = secret_of(driver_id)
        db = self.open_db()
        try:
            if db.driver(driver_id) is None:
                db.add_driver(driver_id, f"Driver {driver_id}", card)
                db.set_driver_secret(driver_id, secret)
        finally:
            db.close()
        return secret

    def driver(self, driver_id: str = "D1") -> WireClient:
        """A Driver's connection, authenticated as driver_id (provisioned if need be)."""
        secret = self.add_driver(driver_id)
        client = self.client()
        reply = client.request(make_driver_auth_request(driver_id, secret))
        assert reply["type"] == t.AUTH_RESPONSE and reply["status"] == t.SUCCESS, reply
        return client

    def start(self) -> CentralUnderTest:
        argv = ["central", "--listen", f"{self.host}:{self.port}", *self.db_args(),
                "--kafka", self.kafka, "--heartbeat-timeout", str(self.heartbeat_timeout),
                "--time-scale", str(TEST_TIME_SCALE), *self.extra]
        if self.token:  # secrets from files (0600), never argv
            token_file = self.tmp / "admin-token"
            token_file.write_text(self.token + "\n")
            token_file.chmod(0o600)
            argv += ["--admin-token-file", str(token_file)]
        self.proc = self.procs.evcharge("central", argv)
        wait_until(lambda: "ready listening" in self.proc.log() or not self.proc.alive(),
                   timeout=30, what="Central ready")
        assert self.proc.alive(), self.proc.log()
        return self

    def log(self) -> str:
        return self.proc.log() if self.proc else ""

    def monitor(self, cp_id: str, connect: bool = True) -> FakeMonitor:
        mon = FakeMonitor(self.host, self.port, cp_id, self.secrets.get(cp_id, "unknown"))
        return mon.connect() if connect else mon

    def client(self) -> WireClient:
        return WireClient(self.host, self.port)

    def admin(self, command: str, token: str | None = None, **fields) -> dict:
        c = self.client()
        try:
            return c.request(make(t.MANUAL_COMMAND, command=command,
                                  token=token or self.token, **fields))
        finally:
            c.close()

    def cp_status(self, cp_id: str) -> str:
        rows = self.admin("list_cps")["data"]
        return next(r["status"] for r in rows if r["cp_id"] == cp_id)

    def session_row(self, session_id: str) -> dict:
        db = self.open_db()
        try:
            row = db.conn.execute("SELECT * FROM sessions WHERE session_id = ?",
                                  (session_id,)).fetchone()
            return dict(row) if row else {}
        finally:
            db.close()


def charge_request(cp_id: str, driver_id: str) -> dict:
    return make(t.CHARGE_REQUEST, cp_id=cp_id, driver_id=driver_id, timestamp=unix_time())
