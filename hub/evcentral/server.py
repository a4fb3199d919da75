"""Central's TCP gateway: one port for Monitors, Drivers and operators.

Each connection has its own reader task and handles its messages in order;
replies are written straight to the transport, never awaited, so a client
that does not read cannot stall anyone else. Its pending output is bounded
(--write-buffer-limit) and must drain within --drain-timeout, otherwise the
connection is dropped. Bad frames are counted by the FrameDecoder and
answered with one error_response naming the problem; the connection stays.

Strangers are bounded too: a connection that has not proved who it is (a CP's
or a driver's auth_request, or an admin command with the right token) within
--auth-timeout is closed, however many bytes it trickles; and one address may
hold at most --max-connections-per-address connections. Loopback is exempt
from that cap unless --cap-loopback (the load generator and the demo connect
thousands of CPs from 127.0.0.1; a stranger on this host is out of scope).
"""
from __future__ import annotations

import asyncio
import ipaddress
import time

from evcentral.boundary import Router, dispatch
from evcentral.config import Config
from evcentral.registry import Registry
from evwire import FrameDecoder, encode_frame, error_response
from evwire.trace import log, trace

READ_CHUNK = 65536
SWEEP_INTERVAL_S = 0.5


def address_capped(host: str, config: Config) -> bool:
    """Does the per-address cap apply to host? Not to loopback, unless --cap-loopback."""
    if config.cap_loopback:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return True  # not an IP address (a Unix socket?): count it
    mapped = getattr(ip, "ipv4_mapped", None)
    return not (ip.is_loopback or (mapped is not None and mapped.is_loopback))


def certificate_names(cert: dict | None) -> frozenset[str] | None:
    """Common name and DNS names of a verified peer certificate (ssl's dict form)."""
    if not cert:
        return None
    names = {value for rdn in cert.get("subject", ()) for key, value in rdn
             if key == "commonName"}
    names.update(value for key, value in cert.get("subjectAltName", ()) if key == "DNS")
    return frozenset(names)


class Connection:
    """One TCP peer; implements the registry's Channel."""

    origin = "socket"

    def __init__(self, writer: asyncio.StreamWriter, config: Config):
        self.writer = writer
        self.transport = writer.transport
        self.config = config
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        # The names of a verified TLS client certificate (a Monitor's), or None.
        self.cert_names = certificate_names(writer.get_extra_info("peercert"))
        self.role: str | None = None
        self.cp_id: str | None = None
        self.driver_id: str | None = None  # set by a driver's successful auth_request
        self.admin = False  # set by an admin command carrying the right token
        self.opened = time.monotonic()
        # While a message is being handled (an auth_request or admin command may wait
        # out the failure throttle, up to 5 s) the auth timeout waits for its answer.
        self.dispatching = False
        self.last_message = self.opened
        self.last_bytes = self.last_message
        self.closing = False
        self._stall_since: float | None = None
        self._stall_size = 0

    @property
    def authenticated(self) -> bool:
        return self.cp_id is not None or self.driver_id is not None or self.admin

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

    def backlog(self) -> int:
        """Bytes sent and not yet taken by the peer (what a slow reader leaves queued)."""
        return self.transport.get_write_buffer_size()

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
        self.per_address: dict[str, int] = {}  # host -> open connections (capped hosts only)
        self.server: asyncio.Server | None = None
        # Shutting down: no new connection, no new message handled (stop_accepting).
        self.draining = False
        self._handlers: set[asyncio.Task] = set()  # one per connection (_serve)
        self.frames_in = 0
        self.bad_frames = 0

    async def start(self) -> tuple[str, int]:
        # With TLS, a peer that does not finish the handshake (plaintext, a wrong
        # CA, a stranger who connects and waits) is closed within --auth-timeout,
        # before it costs a Connection.
        tls = self.config.ssl_context
        self.server = await asyncio.start_server(
            self._serve, self.config.host, self.config.port, backlog=1024, reuse_address=True,
            ssl=tls, ssl_handshake_timeout=self.config.auth_timeout if tls else None)
        host, port = self.server.sockets[0].getsockname()[:2]
        return host, port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(writer, self.config)
        if self.draining:  # accepted just before the listener closed
            conn.close("Central is shutting down")
            return
        if len(self.connections) >= self.config.max_connections:
            conn.send(error_response(f"too many connections (limit "
                                     f"{self.config.max_connections}): try again later",
                                     None, "too_many_connections"))
            conn.close("connection limit reached")
            return
        capped = self._capped(conn.host)
        if capped and self.per_address.get(conn.host, 0) >= \
                self.config.max_connections_per_address:
            conn.send(error_response(f"too many connections from {conn.host} (limit "
                                     f"{self.config.max_connections_per_address})",
                                     None, "too_many_connections"))
            conn.close("per-address connection limit reached")
            return
        if capped:
            self.per_address[conn.host] = self.per_address.get(conn.host, 0) + 1
        self.connections.add(conn)
        task = asyncio.current_task()
        if task is not None:  # close() waits for it: the connection's last answer written
            self._handlers.add(task)
        try:
            await self._read_loop(conn, reader)
        except (ConnectionError, OSError) as exc:
            log("info", f"{conn.describe()} connection error: {exc}")
        except asyncio.CancelledError:
            # Shutdown gave up on this handler (close()). Ending quietly, not cancelled:
            # asyncio reports a cancelled connection task as an unhandled exception.
            pass
        finally:
            if task is not None:
                self._handlers.discard(task)
            self.connections.discard(conn)
            if capped:
                left = self.per_address.pop(conn.host, 1) - 1
                if left > 0:
                    self.per_address[conn.host] = left
            self.registry.detach(conn)
            if not conn.closing:
                conn.close("peer closed the connection")

    def _capped(self, host: str) -> bool:
        return address_capped(host, self.config)

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
                if self.draining:
                    # Shutting down: what the peer sends now is not handled (no half-done
                    # work); the close that follows tells it to retry with the next Central.
                    break
                self.frames_in += 1
                conn.last_message = time.monotonic()
                trace("recv", msg)
                conn.dispatching = True
                try:
                    await dispatch(self.router, msg, conn)
                finally:
                    conn.dispatching = False
                if conn.closing or self._expire_stranger(conn, time.monotonic()):
                    return

    def _expire_stranger(self, conn: Connection, now: float) -> bool:
        """Close conn if it has not authenticated within --auth-timeout; True if closed."""
        if conn.authenticated or now - conn.opened <= self.config.auth_timeout:
            return False
        text = f"not authenticated within {self.config.auth_timeout:g} s"
        conn.send(error_response(text, None, "auth_timeout"))
        conn.close(text)
        return True

    async def sweep(self) -> None:
        """Drop strangers that did not authenticate in time, idle connections and
        those whose output does not drain."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            now = time.monotonic()
            for conn in list(self.connections):
                if conn.closing or (not conn.dispatching and self._expire_stranger(conn, now)):
                    continue
                if now - conn.last_bytes > self.config.idle_timeout:
                    conn.close(f"idle for {self.config.idle_timeout:g} s")
                elif not conn.closing:
                    conn.check_stalled(now)

    def stop_accepting(self) -> None:
        """Shutdown's first step: close the listener and handle no new message. Open
        connections stay, so that the answers of what is in flight still go out."""
        self.draining = True
        if self.server is not None:
            self.server.close()

    async def close(self, timeout: float = 3.0) -> None:
        """Finish the messages being handled (their transactions, their answers), then
        close every connection after its output is flushed; within timeout, after which
        the stragglers (a peer not reading, a handler still waiting) are dropped."""
        self.stop_accepting()
        deadline = time.monotonic() + timeout
        while any(c.dispatching for c in self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.connections):
            conn.close("Central is shutting down")
        handlers = [task for task in self._handlers if not task.done()]
        if handlers:
            await asyncio.wait(handlers, timeout=max(0.1, deadline - time.monotonic()))
        for conn in list(self.connections):
            conn.transport.abort()
        for task in handlers:
            if not task.done():
                task.cancel()
        if handlers:
            await asyncio.wait(handlers, timeout=0.5)
