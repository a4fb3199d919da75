"""Limits for strangers on the web port, as on Central's TCP port (server.py).

aiohttp reads a request's headers without a deadline, so a peer that sends one
header line a minute, or nothing at all, would hold a connection (a file
descriptor of Central's one process) for ever. ConnectionGuard wraps aiohttp's
protocol: a connection whose first request's headers are not complete within
--auth-timeout is closed, and one address may hold at most
--max-connections-per-address connections (loopback exempt unless --cap-loopback).
After the first request aiohttp's own keep-alive timeout applies; a WebSocket
that upgraded was authenticated by its cookie.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from evcentral.config import Config
from evcentral.server import address_capped
from evwire.trace import log

HEADERS_END = b"\r\n\r\n"


class ConnectionGuard:
    def __init__(self, config: Config, make_protocol: Callable[[], asyncio.Protocol]):
        self.config = config
        self.make_protocol = make_protocol
        self.per_address: dict[str, int] = {}
        self.refused = 0
        self.timed_out = 0

    def protocol(self) -> asyncio.Protocol:
        return _Guarded(self, self.make_protocol())

    def admit(self, host: str) -> bool:
        if not address_capped(host, self.config):
            return True
        if self.per_address.get(host, 0) >= self.config.max_connections_per_address:
            self.refused += 1
            return False
        self.per_address[host] = self.per_address.get(host, 0) + 1
        return True

    def release(self, host: str) -> None:
        left = self.per_address.pop(host, 0) - 1
        if left > 0:
            self.per_address[host] = left


class _Guarded(asyncio.Protocol):
    """Passes everything to aiohttp's protocol; adds the deadline and the count."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol):
        self.guard = guard
        self.inner = inner
        self.host: str | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        if not self.guard.admit(host):
            cap = self.guard.config.max_connections_per_address
            log("warning", f"web: refusing {host}: over {cap} connections from one address")
            transport.abort()
            return
        self.host = host
        deadline = self.guard.config.auth_timeout
        self.timer = asyncio.get_running_loop().call_later(deadline, self._expire, transport)
        self.inner.connection_made(transport)

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        self.guard.timed_out += 1
        log("info", f"web: closing {self.host}: no complete request within "
                    f"{self.guard.config.auth_timeout:g} s")
        transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.timer is not None:
            seen = self.tail + data
            if HEADERS_END in seen:
                self.timer.cancel()
                self.timer = None
            else:
                self.tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.host is None:
            return  # refused before aiohttp saw it
        if self.timer is not None:
            self.timer.cancel()
        self.guard.release(self.host)
        self.inner.connection_lost(exc)
