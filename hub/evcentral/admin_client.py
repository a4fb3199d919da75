"""A small synchronous client for Central's port: send a message, get its reply.

Used by `evcharge admin`, the demo, tests and benchmarks:

    with AdminClient("127.0.0.1", 7000, token="t") as admin:
        reply = admin.command("stop_cp", cp_id="CP1", reason="maintenance")
        reply["status"], reply["message"], reply.get("data")
"""
from __future__ import annotations

import socket
import ssl
import time

from evhost.tlsclient import TLSClientError, wrap
from evwire import FrameDecoder, encode_frame, make
from evwire import types as t

# List answers of a large network exceed the 4096-byte default: list_cps is about
# 150 bytes per CP, 1.5 MB for 10,000 CPs.
REPLY_MAX = 16 << 20


class CentralUnreachable(Exception):
    """No TCP connection to Central could be made (or it went away)."""


class NoReply(Exception):
    """Central did not answer in time."""


class TLSRefused(CentralUnreachable):
    """The TLS handshake failed (wrong --ca, a plaintext Central...); str(e) says why."""


class AdminClient:
    def __init__(self, host: str, port: int, token: str | None = None, timeout: float = 5.0,
                 ssl_context: ssl.SSLContext | None = None):
        self.host = host
        self.port = port
        self.token = token
        self.timeout = timeout
        self.ssl_context = ssl_context  # --ca: TLS to Central (evhost.tlsclient)
        self.sock: socket.socket | None = None
        self.decoder = FrameDecoder(REPLY_MAX)
        self.pending: list[dict] = []

    def __enter__(self) -> AdminClient:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> None:
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise CentralUnreachable(f"cannot reach Central at {self.host}:{self.port} "
                                     f"({exc.strerror or exc})") from None
        self._start_tls()

    def _start_tls(self) -> None:
        """With ssl_context: the verified TLS handshake over the new socket (TLSRefused)."""
        if self.ssl_context is None or self.sock is None:
            return
        try:
            self.sock = wrap(self.sock, self.ssl_context, self.host)
        except TLSClientError as exc:
            self.sock = None
            raise TLSRefused(str(exc)) from None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def command(self, command: str, **fields) -> dict:
        """Send a manual_command; return Central's manual_command_response (or error_response)."""
        fields = {k: v for k, v in fields.items() if v is not None}
        return self.request(make(t.MANUAL_COMMAND, command=command, token=self.token, **fields))

    def request(self, msg: dict) -> dict:
        """Send any message and wait for the reply carrying its message_id."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        try:
            self.sock.sendall(encode_frame(msg))
        except OSError as exc:
            raise CentralUnreachable(f"connection to Central lost ({exc})") from None
        return self.wait_for(lambda m: m.get("message_id") == msg["message_id"])

    def wait_for(self, match, timeout: float | None = None) -> dict:
        """The first message (already received or arriving) for which match(msg) is true."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, got in enumerate(self.pending):
                if match(got):
                    return self.pending.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoReply(f"no answer from Central at {self.host}:{self.port} in time")
            assert self.sock is not None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise CentralUnreachable(f"connection to Central lost ({exc})") from None
            if not data:
                raise CentralUnreachable("Central closed the connection")
            self.pending.extend(self.decoder.feed(data))
