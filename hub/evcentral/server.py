"""Central's TCP gateway: one port for Monitors, Drivers and operators.

Each connection has its own reader task and handles its messages in order;
replies are written straight to the transport, never awaited, so a client
that does not read cannot stall anyone else. Its pending output is bounded
(--write-buffer-limit) and must drain within --drain-timeout, otherwise the
connection is dropped. Bad frames are counted by the FrameDecoder and
answered with one error_response naming the problem; the connection stays.
"""
from __future__ import annotations

import asyncio
import time

from evcentral.boundary import Router, dispatch
from evcentral.config import Config
from evcentral.registry import Registry
from evwire import FrameDecoder, encode_frame, error_response
from evwire.trace import log, trace

READ_CHUNK = 65536
SWEEP_INTERVAL_S = 0.5


class Connection:
    """One TCP peer; implements the registry's Channel."""

    origin = "socket"

    def __init__(self, writer: asyncio.StreamWriter, config: Config):
        self.writer = writer
        self.transport = writer.transport
        self.config = config
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.role: str | None = None
        self.cp_id: str | None = None
        self.last_message = time.monotonic()
        self.last_bytes = self.last_message
        self.closing = False
        self._stall_since: float | None = None
        self._stall_size = 0

    def describe(self) -> str:
        who = self.cp_id or self.role or "new client"
        return f"{who} at {self.peer}"

    def send(self, msg: dict) -> bool:
        if self.closing or self.transport.is_closing():
            return False
        frame = encode_frame(msg)
        pending = self.transport.get_write_buffer_size()
        # Unread output beyond the limit means a slow client. One answer larger
        # than the limit on its own (list_cps of a network of thousands of CPs)
        # is queued when nothing is pending: refusing it would make it unanswerable.
        if pending and pending + len(frame) > self.config.write_buffer_limit:
            self.abort(f"slow client: {pending} bytes unread, limit "
                       f"{self.config.write_buffer_limit}")
            return False
        trace("send", msg)
        self.writer.write(frame)
        return True

    def close(self, reason: str) -> None:
        """Close after what was already sent has been flushed."""
        if not self.closing:
            self.closing = True
            log("info", f"closing {self.describe()}: {reason}")
            self.writer.close()

    def abort(self, reason: str) -> None:
        """Drop at once, discarding unsent output (the peer is not reading it)."""
        self.closing = True
        log("warning", f"dropping {self.describe()}: {reason}")
        self.transport.abort()

    def check_stalled(self, now: float) -> None:
        pending = self.transport.get_write_buffer_size()
        if pending == 0 or pending < self._stall_size:
            self._stall_since = None if pending == 0 else now
            self._stall_size = pending
            return
        if self._stall_since is None:
            self._stall_since, self._stall_size = now, pending
        elif now - self._stall_since > self.config.drain_timeout:
            self.abort(f"output not drained for {self.config.drain_timeout:g} s")


class Gateway:
    def __init__(self, config: Config, router: Router, registry: Registry):
        self.config = config
        self.router = router
        self.registry = registry
        self.connections: set[Connection] = set()
        self.server: asyncio.Server | None = None
        self.frames_in = 0
        self.bad_frames = 0

    async def start(self) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._serve, self.config.host, self.config.port,
                                                 backlog=1024, reuse_address=True)
        host, port = self.server.sockets[0].getsockname()[:2]
        return host, port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(writer, self.config)
        if len(self.connections) >= self.config.max_connections:
            conn.send(error_response(f"too many connections (limit "
                                     f"{self.config.max_connections}): try again later",
                                     None, "too_many_connections"))
            conn.close("connection limit reached")
            return
        self.connections.add(conn)
        try:
            await self._read_loop(conn, reader)
        except (ConnectionError, OSError) as exc:
            log("info", f"{conn.describe()} connection error: {exc}")
        finally:
            self.connections.discard(conn)
            self.registry.detach(conn)
            if not conn.closing:
                conn.close("peer closed the connection")

    async def _read_loop(self, conn: Connection, reader: asyncio.StreamReader) -> None:
        decoder = FrameDecoder(self.config.max_frame)
        while not conn.closing:
            data = await reader.read(READ_CHUNK)
            if not data:
                return
            conn.last_bytes = time.monotonic()
            dropped = decoder.dropped_frames
            messages = decoder.feed(data)
            if decoder.dropped_frames != dropped:
                count = decoder.dropped_frames - dropped
                self.bad_frames += count
                conn.send(error_response(f"dropped {count} bad frame(s): {decoder.last_error}",
                                         None, "decode_error"))
            for msg in messages:
                self.frames_in += 1
                conn.last_message = time.monotonic()
                trace("recv", msg)
                await dispatch(self.router, msg, conn)
                if conn.closing:
                    return

    async def sweep(self) -> None:
        """Drop idle connections and those whose output does not drain."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            now = time.monotonic()
            for conn in list(self.connections):
                if now - conn.last_bytes > self.config.idle_timeout:
                    conn.close(f"idle for {self.config.idle_timeout:g} s")
                elif not conn.closing:
                    conn.check_stalled(now)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.close("Central is shutting down")
        if self.server is not None:
            try:
                await asyncio.wait_for(self.server.wait_closed(), 3.0)
            except TimeoutError:
                pass
