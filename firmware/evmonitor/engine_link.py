"""The Monitor's link to its Engine: connect, health-check, reconnect with back-off.

A health_check_request goes out every `health_interval`; a request not
answered within `engine_timeout`, a lost connection or a failed connect
makes the CP FAULTED (engine_unreachable). After MAX_MISSED unanswered checks
in a row the connection is presumed dead (half-open TCP, wedged serial) and
re-opened. The back-off cap is short so that recovery is noticed quickly.

With a link key (engine_key) every connection starts with the handshake of
evwire.link_auth: the Engine proves it holds the key, then the Monitor does;
a link that fails it is closed and retried like a failed connect.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from evhost.backoff import Backoff
from evmonitor import boundary
from evmonitor.config import MonitorConfig
from evmonitor.engine_handlers import ACCEPTS, EngineHandlers
from evmonitor.framed import FramedLink, WireMessage, describe_error, open_tcp
from evmonitor.serial_port import open_serial
from evmonitor.station import Station
from evwire import link_auth, make, make_timestamped, validate
from evwire import types as t
from evwire.dispatch import Dispatcher
from evwire.errors import ValidationError
from evwire.trace import log

MAX_MISSED = 3
CONNECT_TIMEOUT_S = 2.0
AUTH_TIMEOUT_S = 5.0  # each handshake answer; the Engine itself allows a few seconds


class LinkAuthError(Exception):
    """The link handshake failed; str() says why."""


class EngineLink:
    def __init__(self, cfg: MonitorConfig, station: Station):
        self.cfg = cfg
        self.station = station
        self.where = cfg.engine_serial or str(cfg.engine_endpoint)
        self.link: FramedLink | None = None
        self.dispatcher = Dispatcher(EngineHandlers(station, self), ACCEPTS)
        self.backoff = Backoff(cfg.backoff_base, cfg.engine_backoff_cap, cfg.backoff_reset)
        self.last_rtt: float | None = None
        self.state = "connecting"
        self._outstanding: dict[str, float] = {}  # health check id -> sent at (monotonic)
        self._missed = 0
        self._auth_error = ""  # the last handshake failure logged

    @property
    def connected(self) -> bool:
        return self.link is not None and not self.link.closed

    def send(self, msg: dict) -> bool:
        return self.link is not None and self.link.send(msg)

    async def _open(self) -> FramedLink:
        if self.cfg.engine_serial:
            return await open_serial("engine", self.cfg.engine_serial, self.cfg.engine_baud)
        return await open_tcp("engine", self.cfg.engine_endpoint, CONNECT_TIMEOUT_S)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                link = await self._open()
            except (OSError, TimeoutError) as exc:
                failures += 1
                delay = self.backoff.next_delay()
                self.state = f"unreachable, retrying in {delay:.1f} s"
                text = f"cannot connect to the Engine at {self.where} ({describe_error(exc)})"
                if failures == 1:
                    log("warning", f"{text}, retrying in {delay:.1f} s")
                self.station.engine_unreachable(text)
                await asyncio.sleep(delay)
                continue
            failures = 0
            stream = link.messages()  # one stream for the link's life: nothing read is lost
            if self.cfg.engine_key:
                try:
                    await self._authenticate(link, stream)
                except LinkAuthError as exc:
                    link.close()
                    await stream.aclose()
                    delay = self.backoff.next_delay()
                    self.state = f"not authenticated, retrying in {delay:.1f} s"
                    text = f"the Engine at {self.where} failed the link handshake: {exc}"
                    if text != self._auth_error:  # once, not at every retry
                        log("error", text)
                        self._auth_error = text
                    self.station.engine_unreachable(text)
                    await asyncio.sleep(delay)
                    continue
            log("info", f"connected to the Engine at {self.where}")
            await self._serve(link, stream)
            self.link = None
            self.backoff.link_down()
            self.station.engine_unreachable(f"lost the link to the Engine at {self.where}")
            delay = self.backoff.next_delay()
            self.state = f"lost, reconnecting in {delay:.1f} s"
            await asyncio.sleep(delay)

    async def _authenticate(self, link: FramedLink,
                            stream: AsyncIterator[WireMessage]) -> None:
        """The Monitor's side of the handshake; raises LinkAuthError."""
        key, cp_id = self.cfg.engine_key, self.cfg.cp_id
        nonce = link_auth.new_nonce()
        hello = make(t.LINK_HELLO, cp_id=cp_id, nonce=nonce)
        challenge = await self._answer(link, stream, hello, t.LINK_CHALLENGE)
        if not link_auth.nonce_ok(challenge["nonce"]):
            raise LinkAuthError("its challenge nonce is not 32 lowercase hex characters")
        expected = link_auth.engine_mac(key, cp_id, nonce, challenge["nonce"])
        if not link_auth.mac_ok(challenge["mac"], expected):
            raise LinkAuthError("it does not hold this link key (wrong key or not our Engine)")
        auth = make(t.LINK_AUTH, mac=link_auth.monitor_mac(key, cp_id, challenge["nonce"], nonce))
        answer = await self._answer(link, stream, auth, t.LINK_AUTH_RESPONSE)
        if answer["status"] != t.SUCCESS:
            raise LinkAuthError(f"it answered {answer['status']}")

    @staticmethod
    async def _answer(link: FramedLink, stream: AsyncIterator[WireMessage], request: dict,
                      expected: str) -> WireMessage:
        if not link.send(request):
            raise LinkAuthError("the link closed")
        try:
            msg = await asyncio.wait_for(anext(stream), AUTH_TIMEOUT_S)
        except StopAsyncIteration:
            raise LinkAuthError(f"the link closed before its {expected}") from None
        except TimeoutError:
            raise LinkAuthError(f"no {expected} within {AUTH_TIMEOUT_S:g} s") from None
        try:
            validate(msg)
        except ValidationError as exc:
            raise LinkAuthError(f"invalid answer ({exc})") from None
        if msg["type"] == t.ERROR_RESPONSE:
            raise LinkAuthError(f"it refused: {msg['error']}")
        if msg["type"] != expected:
            raise LinkAuthError(f"it answered {msg['type']}, not {expected}")
        return msg

    async def _serve(self, link: FramedLink, stream: AsyncIterator[WireMessage]) -> None:
        self.link = link
        self.state = "connected"
        self.backoff.link_up()
        self.station.limits.engine_connected()  # a restarted Engine gets the limit at once
        self._outstanding.clear()
        self._missed = 0
        reader = asyncio.create_task(self._read(link, stream))
        checker = asyncio.create_task(self._health_checks(link))
        try:
            await asyncio.wait({reader, checker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, checker):
                task.cancel()
            await asyncio.gather(reader, checker, return_exceptions=True)
            link.close()
        log("warning", f"link to the Engine at {self.where} closed")

    async def _read(self, link: FramedLink, stream: AsyncIterator[WireMessage]) -> None:
        async for msg in stream:
            if msg.get("type") == t.ERROR_RESPONSE and msg.get("code") == "unauthenticated":
                if self.cfg.engine_key:
                    # A serial Engine that took us for gone: re-open, handshake again.
                    log("warning", f"the Engine at {self.where} no longer counts this link "
                                   "as authenticated: re-opening it")
                    return
                text = (f"the Engine at {self.where} demands a link key: set "
                        "engine_key_file (--engine-key-file) to its link key")
                if text != self._auth_error:  # once, not at every reconnect
                    log("error", text)
                    self._auth_error = text
            boundary.handle(self.dispatcher, msg, link)

    async def _health_checks(self, link: FramedLink) -> None:
        tick = max(0.02, min(0.2, self.cfg.health_interval / 5, self.cfg.engine_timeout / 5))
        next_check = time.monotonic()
        while not link.closed:
            now = time.monotonic()
            overdue = [mid for mid, sent in self._outstanding.items()
                       if now - sent > self.cfg.engine_timeout]
            for mid in overdue:
                del self._outstanding[mid]
                self._missed += 1
                self.station.engine_unreachable(
                    f"no answer to a health check within {self.cfg.engine_timeout:g} s")
            if self._missed >= MAX_MISSED:
                log("warning", f"{self._missed} health checks unanswered: re-opening the link")
                return
            if now >= next_check:
                request = make_timestamped(t.HEALTH_CHECK_REQUEST, id=self.cfg.cp_id,
                                           cp_id=self.cfg.cp_id)
                if link.send(request):
                    self._outstanding[request["message_id"]] = now
                next_check = now + self.cfg.health_interval
            await asyncio.sleep(tick)

    def health_answered(self, message_id: str) -> None:
        """Any answer proves the Engine alive; older unanswered checks are forgiven."""
        sent = self._outstanding.pop(message_id, None)
        if sent is not None:
            self.last_rtt = time.monotonic() - sent
            self._outstanding = {m: s for m, s in self._outstanding.items() if s > sent}
        self._missed = 0
        self._auth_error = ""  # the link works: a later handshake failure is news again
