"""The OCPP 1.6J listener: WebSocket at /ocpp/{cp_id}, subprotocol ocpp1.6.

The HTTP upgrade is where a charger proves itself (basic_auth.py): an unknown
cp_id or a wrong password gets 401 and never a WebSocket. With Central's TLS
settings (--tls-cert/--tls-key) the listener speaks TLS: security profile 2.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from evcentral.charging import ChargeDesk
from evcentral.config import Hub
from evcentral.server import address_capped
from evocpp.basic_auth import BasicAuth, Refused
from evocpp.link import PROTOCOL, OcppLink
from evocpp.transactions import OcppCharging
from evwire.trace import log

MAX_FRAME = 64 * 1024  # largest OCPP-J message accepted; a bigger one closes the socket (1009)


class _OneLine(logging.Handler):
    """The websockets package's own complaints (a failed handshake, e.g. no ocpp1.6
    subprotocol: 400) as one log line each, never a traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        cause = f": {record.exc_info[1]}" if record.exc_info and record.exc_info[1] else ""
        log("warning", f"OCPP WebSocket: {record.getMessage()}{cause}")


_ws_log = logging.getLogger("evocpp.websockets")
_ws_log.addHandler(_OneLine(logging.WARNING))
_ws_log.propagate = False


class OcppGateway:
    def __init__(self, hub: Hub, desk: ChargeDesk, host: str, port: int,
                 ssl_context: ssl.SSLContext | None, heartbeat_interval: int):
        self.hub = hub
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.heartbeat_interval = heartbeat_interval
        self.auth = BasicAuth(hub)
        self.charging = OcppCharging(hub, desk)
        self.server: Server | None = None
        self.links: set[OcppLink] = set()
        # Open connections per address (--max-connections-per-address, as the wire port):
        # counted from the accepted upgrade to the connection's end.
        self.per_address: dict[str, int] = {}
        # A pong keeps a CP alive: ping well within Central's heartbeat timeout.
        self.ping_every = max(0.2, min(20.0, hub.config.heartbeat_timeout / 3))

    async def start(self) -> tuple[str, int]:
        self.server = await serve(self._serve, self.host, self.port, ssl=self.ssl_context,
                                  subprotocols=[PROTOCOL], process_request=self._upgrade,
                                  max_size=MAX_FRAME, ping_interval=None,
                                  server_header=None, open_timeout=10, logger=_ws_log)
        sock = next(iter(self.server.sockets))
        host, port = sock.getsockname()[:2]
        return host, port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        address = connection.remote_address[0] if connection.remote_address else "unknown"
        if len(self.links) >= self.hub.config.max_connections:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        limit = self.hub.config.max_connections_per_address
        if address_capped(address, self.hub.config) and self.per_address.get(address, 0) >= limit:
            log("warning", f"OCPP upgrade from {address} refused: {limit} connections from "
                           "that address already open (--max-connections-per-address)")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE,
                                      f"too many connections from {address}\n")
        try:
            cp_id = await self.auth.check(address, request.path,
                                          request.headers.get("Authorization"))
        except Refused:
            response = connection.respond(HTTPStatus.UNAUTHORIZED,
                                          "unknown charge point or wrong password\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="evcharge OCPP", charset="UTF-8"'
            return response
        connection.cp_id = cp_id  # for _serve: the id proved at the upgrade
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        cp_id = getattr(ws, "cp_id", None)
        if cp_id is None:
            return
        if ws.subprotocol != PROTOCOL:
            log("warning", f"{cp_id}: no {PROTOCOL} subprotocol offered: closing")
            await ws.close(1002, f"subprotocol {PROTOCOL} required")
            return
        cp = self.hub.registry.get(cp_id)
        if cp is None:
            await ws.close(1008, "no longer provisioned")
            return
        address = ws.remote_address[0] if ws.remote_address else "unknown"
        self.per_address[address] = self.per_address.get(address, 0) + 1
        try:
            await self._serve_link(ws, cp_id, cp)
        finally:
            left = self.per_address.pop(address, 1) - 1
            if left > 0:
                self.per_address[address] = left

    async def _serve_link(self, ws: ServerConnection, cp_id: str, cp) -> None:
        link = OcppLink(cp_id, ws, self.charging, self.heartbeat_interval)
        self.links.add(link)
        self.hub.registry.attach(cp, link)
        log("info", f"{cp_id} connected over OCPP 1.6J from {link.peer}")
        keepalive = asyncio.create_task(link.keepalive(self.ping_every,
                                                       self.hub.config.idle_timeout))
        try:
            await link.serve()
        finally:
            keepalive.cancel()
            self.links.discard(link)
            self.hub.registry.detach(link)
            log("info", f"{cp_id}: OCPP connection closed")


