"""One simulated charge point's TCP link to Central, and what it does with each message.

A link is an asyncio Protocol (cheaper than streams for thousands of peers).
Incoming messages go through evwire's Dispatcher to one handler per type,
named after it. The generator configures evwire.trace at warning level, so
the per-message enter/exit lines cost nothing unless --log-level asks.
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from evhost.backoff import Backoff
from evwire import Dispatcher, FrameDecoder, encode_frame, make
from evwire import types as t
from evwire.errors import WireError
from evwire.trace import log, trace

if TYPE_CHECKING:
    from evbench.fleet import Fleet

ACCEPTS = (
    t.AUTH_RESPONSE, t.REGISTER_RESPONSE, t.HEARTBEAT_RESPONSE, t.START_CHARGING_COMMAND,
    t.STOP_CHARGING_COMMAND, t.STOP_CP_COMMAND, t.RESUME_CP_COMMAND, t.ERROR_RESPONSE,
    t.LOCAL_AUTH_LIST,
)
REPLY_MAX = 1 << 16


class SimSession:
    __slots__ = ("session_id", "driver_id", "price_per_kwh", "energy_kwh", "confirmed")

    def __init__(self, session_id: str, driver_id: str, price_per_kwh: float):
        self.session_id = session_id
        self.driver_id = driver_id
        self.price_per_kwh = price_per_kwh
        self.energy_kwh = 0.0
        self.confirmed = True  # answered the start command with success


class SimCp:
    __slots__ = ("index", "cp_id", "key", "secret", "backoff", "link", "registered_at",
                 "cp_status", "session", "auth_list_version")

    def __init__(self, index: int, cp_id: str, secret: str, backoff: Backoff):
        self.index = index
        self.cp_id = cp_id
        self.key = cp_id.encode()
        self.secret = secret
        self.backoff = backoff
        self.link: CpLink | None = None
        self.registered_at: float | None = None  # time.monotonic() of the last registration
        self.cp_status: str | None = None  # register_response.cp_status
        self.session: SimSession | None = None
        # The offline list it holds, announced in heartbeats as a Monitor does (without
        # it Central would push the whole list again every half minute).
        self.auth_list_version: str | None = None


class CpHandlers:
    """What a charge point does with each message from Central (its Monitor's part)."""

    def __init__(self, fleet: Fleet):
        self.fleet = fleet

    def auth_response(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        link.answer(msg)

    def register_response(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        link.answer(msg)

    def local_auth_list(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        """The offline list: a simulated CP never charges offline, so it keeps only
        the version of a complete list, to announce."""
        if msg["page"] == msg["pages"]:
            cp.auth_list_version = msg["version"]

    def heartbeat_response(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        sent = link.heartbeats.pop(msg["message_id"], None)
        if sent is not None:
            self.fleet.heartbeat_rtt.add(time.monotonic() - sent)

    def start_charging_command(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        self.fleet.start_command_arrived(msg["message_id"])
        if cp.session is not None and cp.session.session_id != msg["session_id"]:
            link.send(_command_response(msg, t.FAILURE, "busy with another session",
                                        cp.session.session_id))
            return
        cp.session = SimSession(msg["session_id"], msg["driver_id"], msg["price_per_kwh"])
        link.send(_command_response(msg, t.SUCCESS, "charging", msg["session_id"]))

    def stop_charging_command(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        link.send(_command_response(msg, t.SUCCESS, "stopping", msg["session_id"]))
        self.fleet.complete(cp)

    def stop_cp_command(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        link.send(_command_response(msg, t.SUCCESS, "out of service", None))

    def resume_cp_command(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        link.send(_command_response(msg, t.SUCCESS, "back in service", None))

    def error_response(self, cp: SimCp, link: CpLink, msg: dict) -> None:
        log("warning", f"{cp.cp_id}: Central answered an error: {msg['error']}")
        link.answer(msg)


def _command_response(command: dict, status: str, text: str, session_id: str | None) -> dict:
    return make(t.COMMAND_RESPONSE, command["message_id"], cp_id=command["cp_id"],
                command=command["type"], status=status, message=text, session_id=session_id,
                timestamp=int(time.time()))


class CpLink(asyncio.Protocol):
    def __init__(self, cp: SimCp, fleet: Fleet):
        self.cp = cp
        self.dispatcher = fleet.dispatcher
        self.decoder = FrameDecoder(REPLY_MAX)
        self.transport: asyncio.Transport | None = None
        self.registered = False
        self.last_heard = time.monotonic()
        self.heartbeats: dict[str, float] = {}  # message_id -> sent (monotonic)
        self.waiting: dict[str, asyncio.Future] = {}
        self.lost: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        for msg in self.decoder.feed(data):
            try:
                handler = self.dispatcher.resolve(msg)
            except WireError as exc:
                log("warning", f"{self.cp.cp_id}: unexpected message from Central: {exc}")
                continue
            trace("enter", msg)
            handler(self.cp, self, msg)
            trace("exit", msg)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registered = False
        for future in self.waiting.values():
            if not future.done():
                future.set_result(None)
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, msg: dict) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(msg))

    def answer(self, msg: dict) -> None:
        future = self.waiting.pop(msg["message_id"], None)
        if future is not None and not future.done():
            future.set_result(msg)

    async def ask(self, msg: dict, timeout: float) -> dict | None:
        """Send a request and wait for the reply with its message_id (None: none came)."""
        future = asyncio.get_running_loop().create_future()
        self.waiting[msg["message_id"]] = future
        self.send(msg)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self.waiting.pop(msg["message_id"], None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def make_dispatcher(fleet: Fleet) -> Dispatcher:
    return Dispatcher(CpHandlers(fleet), ACCEPTS)
