"""M simulated drivers: charge requests over TCP, and their events from Kafka.

Requests: as a real Driver does, each charge request goes on a connection of
its own that first authenticates as its driver (auth_request with the
driver's secret: a connection speaks for one driver only); at most a few
dozen are open at once, so thousands of drivers do not need thousands of
sockets. The drivers are provisioned with secrets in Central's database
first (provision_drivers). Events: ONE consumer reads driver-events for
all of them and keeps the records whose key (the driver id) carries this
run's driver prefix, as M separate consumers each filtering their own key
would; it decodes only what it measures (forwarded charging_data, tickets).
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from evbench.metrics import Latencies
from evcentral.db import Database, now_s
from evkafka.client import AssignedConsumer
from evwire import Dispatcher, FrameDecoder, encode_frame, loads, make
from evwire import types as t
from evwire.auth import make_driver_auth_request
from evwire.errors import WireError
from evwire.trace import log

REQUEST_TIMEOUT_S = 10.0  # the Driver's default answer timeout
REPLY_MAX = 1 << 20
MAX_OPEN_LINKS = 64  # driver connections open at once (each lives for one request)


def provision_drivers(db_path: Path | str, secrets: dict[str, str],
                      key_file: Path | None = None) -> None:
    """Every driver of the run, with its secret, in one transaction (add-driver is slow);
    db_path a SQLite file or a postgresql:// URL with its key_file."""
    db = Database(db_path, key_file)
    try:
        with db.transaction() as c:
            c.executemany(
                "INSERT INTO drivers (driver_id, name, created_at, secret_enc)"
                " VALUES (?, 'bench', ?, ?)",
                [(driver_id, now_s(), db.box.encrypt(secret))
                 for driver_id, secret in secrets.items()])
    finally:
        db.close()


class DriverReplies:
    """What a driver connection receives: answers to its requests."""

    def __init__(self, link: DriverLink):
        self.link = link

    def charge_request_response(self, msg: dict) -> None:
        self.link.answer(msg)

    def auth_response(self, msg: dict) -> None:
        self.link.answer(msg)

    def error_response(self, msg: dict) -> None:
        self.link.answer(msg)


class DriverLink(asyncio.Protocol):
    def __init__(self):
        self.decoder = FrameDecoder(REPLY_MAX)
        self.dispatcher = Dispatcher(DriverReplies(self),
                                     (t.CHARGE_REQUEST_RESPONSE, t.AUTH_RESPONSE,
                                      t.ERROR_RESPONSE))
        self.transport: asyncio.Transport | None = None
        self.waiting: dict[str, asyncio.Future] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        for msg in self.decoder.feed(data):
            try:
                self.dispatcher.resolve(msg)(msg)
            except WireError as exc:
                log("warning", f"driver link: unexpected message from Central: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_result(None)

    def answer(self, msg: dict) -> None:
        future = self.waiting.pop(msg.get("message_id") or "", None)
        if future is not None and not future.done():
            future.set_result(msg)

    async def ask(self, msg: dict, timeout: float) -> dict | None:
        future = asyncio.get_running_loop().create_future()
        self.waiting[msg["message_id"]] = future
        assert self.transport is not None
        self.transport.write(encode_frame(msg))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self.waiting.pop(msg["message_id"], None)


class DriverDesk:
    """Sends charge requests, each on its own connection authenticated as its driver;
    remembers when, so the CP can time the start command (the auth is not timed)."""

    def __init__(self, host: str, port: int, requested_at: dict[str, tuple[float, Latencies]],
                 secret_of: Callable[[str], str], connections: int = MAX_OPEN_LINKS):
        self.host, self.port = host, port
        self.requested_at = requested_at
        self.secret_of = secret_of
        self.slots = asyncio.Semaphore(max(1, connections))
        self.links: set[DriverLink] = set()
        self.accepted = 0
        self.refused: Counter[str] = Counter()

    async def open(self) -> None:
        """Nothing to open ahead: a connection per request, as a Driver does."""

    async def _link_as(self, driver_id: str) -> tuple[DriverLink | None, str]:
        """A connection authenticated as driver_id, or (None, why not)."""
        loop = asyncio.get_running_loop()
        try:
            _transport, link = await loop.create_connection(DriverLink, self.host, self.port)
        except OSError as exc:
            return None, f"cannot connect: {exc.strerror or exc}"
        self.links.add(link)
        reply = await link.ask(make_driver_auth_request(driver_id, self.secret_of(driver_id)),
                               REQUEST_TIMEOUT_S)
        if reply is None or reply.get("status") != t.SUCCESS:
            self._drop(link)
            return None, "auth: " + ("no answer" if reply is None else
                                     reply.get("reason") or reply.get("error") or "refused")
        return link, ""

    def _drop(self, link: DriverLink) -> None:
        self.links.discard(link)
        if link.transport is not None:
            link.transport.close()

    async def charge(self, cp_id: str, driver_id: str, recorder: Latencies) -> str | None:
        """charge_request; the session id, or None if refused or unanswered."""
        async with self.slots:
            link, why_not = await self._link_as(driver_id)
            if link is None:
                self.refused[why_not] += 1
                return None
            msg = make(t.CHARGE_REQUEST, cp_id=cp_id, driver_id=driver_id,
                       timestamp=int(time.time()))
            self.requested_at[msg["message_id"]] = (time.monotonic(), recorder)
            try:
                reply = await link.ask(msg, REQUEST_TIMEOUT_S)
            finally:
                self._drop(link)
        if reply is None or reply.get("status") != t.SUCCESS:
            self.requested_at.pop(msg["message_id"], None)
            why = "no answer" if reply is None else (reply.get("reason") or reply.get("error")
                                                      or "refused")
            self.refused[why] += 1
            return None
        self.accepted += 1
        return reply["session_id"]

    def close(self) -> None:
        for link in list(self.links):
            self._drop(link)


class DriverEvents:
    """One consumer of driver-events for all the run's drivers, in its own thread."""

    def __init__(self, bootstrap: str, topic: str, group: str, key_prefix: str):
        self.consumer = AssignedConsumer(bootstrap, group, [topic], client_id="evbench-drivers")
        self.prefix = key_prefix.encode()
        # Forwarded charging_data: (created_ms, arrived_ms) per record, first copy only.
        self.data: list[tuple[int, float]] = []
        self.data_ids: set[str] = set()
        self.duplicates = 0
        self.tickets: set[str] = set()  # session ids of forwarded completions
        self.status_updates = 0
        self.foreign = 0  # other keys: not ours
        self.other = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evbench-driver-events",
                                        daemon=True)

    def start(self) -> DriverEvents:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.is_set():
            # A short wait: consume() returns when the batch is full or the wait is over,
            # and a record must not sit waiting for others (a Driver polls one by one).
            records = self.consumer.consume(5000, timeout=0.005)
            arrived_ms = time.time() * 1000
            for rec in records:
                key = rec.key()
                if not key or not key.startswith(self.prefix):
                    self.foreign += 1
                    continue
                self._take(rec.value() or b"", arrived_ms)

    def _take(self, value: bytes, arrived_ms: float) -> None:
        if b"created_ms" in value:
            msg = loads(value)
            if msg["message_id"] in self.data_ids:
                self.duplicates += 1
                return
            self.data_ids.add(msg["message_id"])
            self.data.append((msg["created_ms"], arrived_ms))
        elif b"charging_status_update" in value:
            self.status_updates += 1
        elif b"charge_completion" in value:
            self.tickets.add(loads(value)["session_id"])
        else:
            self.other += 1

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)
        self.consumer.close()
