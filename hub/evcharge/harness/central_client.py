"""A small synchronous wire client for Central: what an operator's console sends.

The harness polls Central often (CP states, sessions) and a Python process
per poll would load two busy cores, so it speaks the wire itself, exactly as
`evcharge admin` does: one framed `manual_command` per request on a TCP
connection, answered by `manual_command_response`.
"""
from __future__ import annotations

import socket
import time
from collections.abc import Callable

import evwire
from evwire import types as t


class CentralUnavailable(ConnectionError):
    """Central could not be reached or did not answer in time."""


class CommandRefused(RuntimeError):
    """Central answered the command with status failure."""


Connector = Callable[[], socket.socket]


def tcp_connector(host: str, port: int, timeout: float = 3.0) -> Connector:
    return lambda: socket.create_connection((host, port), timeout=timeout)


class CentralClient:
    def __init__(self, connect: Connector, token: str, timeout: float = 5.0):
        self.connect = connect
        self.token = token
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._decoder = evwire.FrameDecoder()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            try:
                self._sock = self.connect()
            except OSError as exc:
                raise CentralUnavailable(f"cannot connect to Central: {exc}") from exc
            self._sock.settimeout(self.timeout)
            self._decoder = evwire.FrameDecoder()
        return self._sock

    def request(self, msg: dict) -> dict:
        """Send one message and return the reply carrying its message_id."""
        sock = self._socket()
        try:
            sock.sendall(evwire.encode_frame(msg))
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("Central closed the connection")
                for reply in self._decoder.feed(data):
                    if reply.get("message_id") == msg["message_id"]:
                        return reply
        except OSError as exc:
            self.close()  # a broken connection is reopened by the next request
            raise CentralUnavailable(f"Central did not answer {msg['type']}: {exc}") from exc
        self.close()
        raise CentralUnavailable(f"Central did not answer {msg['type']} within {self.timeout}s")

    def manual(self, command: str, **fields: object) -> object:
        """Run an operator command; return its `data`, or raise CommandRefused."""
        msg = evwire.make(t.MANUAL_COMMAND, command=command, token=self.token, **fields)
        reply = self.request(msg)
        if reply.get("type") == t.ERROR_RESPONSE or reply.get("status") != t.SUCCESS:
            text = reply.get("message") or reply.get("error") or "refused"
            raise CommandRefused(f"{command}: {text}")
        return reply.get("data")
