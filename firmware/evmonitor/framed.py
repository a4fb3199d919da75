"""One framed-CBOR connection (TCP or serial) as seen by the Monitor's asyncio loop.

Received messages keep the exact CBOR payload bytes they arrived in
(`WireMessage.payload`), so telemetry goes to the outbox and on to Kafka
without being re-encoded.
"""
from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Callable

from evmonitor.config import Endpoint
from evwire import DEFAULT_MAX, FrameDecoder, encode_frame
from evwire.trace import log, trace

READ_CHUNK = 4096
# A peer that stops reading must not make us buffer without limit.
MAX_WRITE_BACKLOG = 256 * 1024


class WireMessage(dict):
    """A decoded message plus the CBOR payload bytes it was decoded from."""

    payload: bytes = b""


class PayloadFrameDecoder(FrameDecoder):
    """evwire's FrameDecoder whose messages keep their payload bytes (WireMessage).

    The framing, the bad-frame counters and the memory bound are evwire's:
    feed() never raises and holds at most `buffer_bound` bytes between delimiters.
    """

    def __init__(self, max_len: int = DEFAULT_MAX):
        super().__init__(max_len, with_payload=True)

    def feed(self, data: bytes) -> list[WireMessage]:
        messages = []
        for decoded, payload in super().feed(data):
            msg = WireMessage(decoded)
            msg.payload = payload
            messages.append(msg)
        return messages


class FramedLink:
    """Frames in and out over a byte stream: an asyncio StreamReader plus writer functions."""

    def __init__(self, name: str, reader: asyncio.StreamReader,
                 write: Callable[[bytes], None], close: Callable[[], None],
                 backlog: Callable[[], int] = lambda: 0):
        self.name = name
        self._reader = reader
        self._write = write
        self._close = close
        self._backlog = backlog
        self.closed = False
        self.decoder = PayloadFrameDecoder()

    async def messages(self) -> AsyncIterator[WireMessage]:
        """Yield messages until the peer closes or the stream fails."""
        dropped = 0
        while not self.closed:
            try:
                data = await self._reader.read(READ_CHUNK)
            except (OSError, asyncio.IncompleteReadError) as exc:
                log("warning", f"{self.name}: read failed: {exc}")
                return
            if not data:
                return
            for msg in self.decoder.feed(data):
                trace("recv", msg)
                yield msg
            if self.decoder.dropped_frames != dropped:
                dropped = self.decoder.dropped_frames
                log("warning", f"{self.name}: dropped a bad frame ({self.decoder.last_error}); "
                               f"{dropped} dropped so far")

    def send(self, msg: dict) -> bool:
        """Queue one message; False if the link is closed or the peer is not reading."""
        if self.closed:
            return False
        if self._backlog() > MAX_WRITE_BACKLOG:
            log("warning", f"{self.name}: peer is not reading; dropping the link")
            self.close()
            return False
        try:
            self._write(encode_frame(msg))
        except (OSError, RuntimeError) as exc:
            log("warning", f"{self.name}: write failed: {exc}")
            self.close()
            return False
        trace("send", msg)
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._close()
            except OSError:
                pass


def describe_error(exc: BaseException) -> str:
    """A short reason for a failed connect: 'connection refused', 'timed out'..."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()  # asyncio's own text repeats the address
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


async def open_tcp(name: str, endpoint: Endpoint, timeout: float,
                   tls: ssl.SSLContext | None = None) -> FramedLink:
    """Connect (with tls: and verify the peer's certificate for endpoint.host);
    raises OSError (ssl.SSLError included) or TimeoutError when that fails."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(endpoint.host, endpoint.port, ssl=tls,
                                server_hostname=endpoint.host if tls else None), timeout)
    transport = writer.transport
    return FramedLink(name, reader, writer.write, writer.close,
                      backlog=transport.get_write_buffer_size)
