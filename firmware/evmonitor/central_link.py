"""The Monitor's link to Central: authenticate, register, heartbeat, reconnect.

Every (re)connection runs the same handshake: auth_request (HMAC of the
configured secret) -> auth_response, register_request -> register_response
(Central's view of the CP, e.g. STOPPED), then the current status. Any
failure closes the connection and retries after a full-jitter back-off
(base/cap configurable), reset once a registered link stayed up long enough.
A Central that stops answering for SILENCE_BEATS heartbeats is presumed gone.

The secret file is re-read before every handshake (and on SIGHUP, by the
daemon): after an operator rotates the CP's secret and updates the file, the
next connection, e.g. the retry after Central refused the old secret, uses the
new one without a restart.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable

from evhost.backoff import Backoff
from evmonitor import boundary, tls
from evmonitor.central_handlers import ACCEPTS, CentralHandlers
from evmonitor.config import MonitorConfig
from evmonitor.framed import FramedLink, describe_error, open_tcp
from evmonitor.station import Station
from evwire import make_timestamped
from evwire import types as t
from evwire.auth import make_auth_request
from evwire.dispatch import Dispatcher
from evwire.trace import log

CONNECT_TIMEOUT_S = 3.0
HANDSHAKE_TIMEOUT_S = 5.0
SILENCE_BEATS = 5
MIN_SILENCE_S = 5.0


class HandshakeFailed(Exception):
    """Central refused or did not answer; str(e) says which and why."""


class CentralLink:
    def __init__(self, cfg: MonitorConfig, station: Station):
        self.cfg = cfg
        self.station = station
        # Several Centrals (`central = "A:7000,B:7000"`): one at a time, the next one
        # after a failed connection or a lost link, with the back-off between tries.
        self.endpoints = cfg.central_endpoints or [cfg.central_endpoint]
        self._current = 0
        self.where = str(self.endpoints[0])
        self.link: FramedLink | None = None
        self.registered = False
        self.state = "connecting"
        self.dispatcher = Dispatcher(CentralHandlers(station, self), ACCEPTS)
        self.backoff = Backoff(cfg.backoff_base, cfg.backoff_cap, cfg.backoff_reset)
        self._waiting: tuple[str, asyncio.Future] | None = None  # (request id, answer)
        self._last_heard = 0.0
        self._cp_status: str | None = None
        self.silence_limit = max(MIN_SILENCE_S, SILENCE_BEATS * cfg.heartbeat_interval)
        # Told when a re-read gave a new secret (the daemon: Kafka records sign with it).
        self.on_new_secret: Callable[[], None] | None = None

    def reload_secret(self) -> bool:
        """Re-read the secret file; True (and on_new_secret told) if the secret changed."""
        if not self.cfg.reload_secret():
            return False
        if self.on_new_secret is not None:
            self.on_new_secret()
        return True

    def send(self, msg: dict) -> bool:
        """Send if registered; commands and reports are meaningless before that."""
        return self.registered and self.link is not None and self.link.send(msg)

    async def run(self) -> None:
        while True:
            problem = await self._connect_once()
            self.link = None
            self.registered = False
            self.backoff.link_down()
            delay = self.backoff.next_delay()
            nxt = self._next_central()
            then = "" if nxt == self.where else f" at {nxt}"
            self.state = f"{problem}; retrying{then} in {delay:.1f} s"
            log("warning", f"{problem}, retrying{then} in {delay:.1f} s")
            await asyncio.sleep(delay)
            self.where = nxt

    def _next_central(self) -> str:
        self._current = (self._current + 1) % len(self.endpoints)
        return str(self.endpoints[self._current])

    async def _connect_once(self) -> str:
        """One connection's life; returns why it ended (for the log line)."""
        try:
            link = await open_tcp("central", self.endpoints[self._current], CONNECT_TIMEOUT_S,
                                  self.cfg.central_tls)
        except ssl.SSLError as exc:  # a wrong CA or a plaintext Central: said, then retried
            return f"cannot connect to Central at {self.where} ({tls.describe(exc)})"
        except (OSError, TimeoutError) as exc:
            return f"cannot connect to Central at {self.where} ({describe_error(exc)})"
        self.link = link
        self._last_heard = time.monotonic()
        reader = asyncio.create_task(self._read(link))
        try:
            await self._handshake(link, reader)
            self.registered = True
            self.state = "registered"
            self.backoff.link_up()
            log("info", f"registered with Central at {self.where} as {self.cfg.cp_id}")
            self.station.central_registered(self._cp_status)
            return await self._heartbeats(link, reader)
        except HandshakeFailed as exc:
            return str(exc)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            link.close()

    async def _read(self, link: FramedLink) -> None:
        async for msg in link.messages():
            self._last_heard = time.monotonic()
            boundary.handle(self.dispatcher, msg, link)

    async def _ask(self, link: FramedLink, reader: asyncio.Task, request: dict) -> dict:
        answer = asyncio.get_running_loop().create_future()
        self._waiting = (request["message_id"], answer)
        try:
            link.send(request)
            await asyncio.wait({answer, reader}, timeout=HANDSHAKE_TIMEOUT_S,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiting = None
        if answer.done():
            return answer.result()
        if reader.done():
            raise HandshakeFailed(f"Central at {self.where} closed the connection during "
                                  f"{request['type']}")
        raise HandshakeFailed(f"Central at {self.where} did not answer {request['type']} "
                              f"within {HANDSHAKE_TIMEOUT_S:g} s")

    async def _handshake(self, link: FramedLink, reader: asyncio.Task) -> None:
        self.state = "authenticating"
        self.reload_secret()
        auth = await self._ask(link, reader, make_auth_request(self.cfg.cp_id, self.cfg.secret))
        if auth.get("status") != t.SUCCESS:
            raise HandshakeFailed(
                f"authentication refused by Central at {self.where}: "
                f"{auth.get('message') or auth.get('error')} (check the secret of "
                f"{self.cfg.cp_id})")
        self.state = "registering"
        fields = {"cp_id": self.cfg.cp_id, "max_charging_rate_kw": self.cfg.max_kw}
        if self.cfg.location:
            fields["location"] = self.cfg.location
        if self.station.offline.auth_list.version:  # Central pushes the list if it differs
            fields["auth_list_version"] = self.station.offline.auth_list.version
        reg = await self._ask(link, reader, make_timestamped(t.REGISTER_REQUEST, **fields))
        if reg.get("status") != t.SUCCESS:
            raise HandshakeFailed(
                f"registration refused by Central at {self.where}: "
                f"{reg.get('message') or reg.get('error')}")
        self._cp_status = reg.get("cp_status")

    def handshake_answer(self, msg: dict) -> bool:
        """Called by the handlers: True if `msg` answers the request we wait for."""
        if self._waiting is None:
            return False
        request_id, answer = self._waiting
        if msg["message_id"] != request_id and msg["type"] != t.ERROR_RESPONSE:
            return False
        if not answer.done():
            answer.set_result(msg)
        return True

    def heartbeat_answered(self, msg: dict) -> None:
        if msg.get("status") != t.SUCCESS:
            log("warning", f"Central refused heartbeat id={msg['message_id']}: "
                           f"{msg.get('message') or msg.get('error') or msg.get('status')}")

    async def _heartbeats(self, link: FramedLink, reader: asyncio.Task) -> str:
        while not reader.done():
            beat = make_timestamped(t.HEARTBEAT_REQUEST, cp_id=self.cfg.cp_id,
                                    status=self.station.cp.status,
                                    session_id=self.station.cp.session_id)
            if self.station.offline.auth_list.version:
                beat["auth_list_version"] = self.station.offline.auth_list.version
            if not link.send(beat):
                return f"lost the connection to Central at {self.where}"
            await asyncio.wait({reader}, timeout=self.cfg.heartbeat_interval)
            silent = time.monotonic() - self._last_heard
            if silent > self.silence_limit:
                return f"Central at {self.where} silent for {silent:.0f} s"
        return f"lost the connection to Central at {self.where}"
