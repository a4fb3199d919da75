"""Client for the simulator's control channel (tests, the demo, the Engine's
key menu): ControlClient(path).command("plug") -> {"ok": True, ...}."""
from __future__ import annotations

import json
import socket
from pathlib import Path


class ControlError(Exception):
    """The control socket cannot be reached or answered nonsense."""


class ControlClient:
    """One connection, reused for every command; reconnects once if the
    simulator dropped it. Usable as a context manager."""

    def __init__(self, path: str | Path, timeout: float = 5.0):
        self.path = str(path)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._pending = b""

    def command(self, line: str) -> dict:
        """Send one command line; return the simulator's JSON reply as a dict.
        A refused command comes back as {"ok": False, "error": ...}."""
        if "\n" in line:
            raise ValueError("one command per call (no newlines)")
        try:
            return self._exchange(line)
        except (BrokenPipeError, ConnectionResetError, _ClosedByPeer):
            # The connection was from a simulator that has since stopped
            # (or restarted): try once on a fresh one.
            self.close()
        try:
            return self._exchange(line)
        except (BrokenPipeError, ConnectionResetError, _ClosedByPeer):
            self.close()
            raise ControlError(f"simulator at {self.path} closed the connection") from None

    def _exchange(self, line: str) -> dict:
        sock = self._connect()
        try:
            sock.sendall(line.encode() + b"\n")
            raw = self._read_line(sock)
        except TimeoutError:
            self.close()
            raise ControlError(f"no reply from {self.path} within {self.timeout}s") from None
        try:
            reply = json.loads(raw)
        except ValueError:
            raise ControlError(f"unreadable reply from {self.path}: {raw[:80]!r}") from None
        if not isinstance(reply, dict):
            raise ControlError(f"unexpected reply from {self.path}: {raw[:80]!r}")
        return reply

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.path)
            except OSError as exc:
                sock.close()
                reason = exc.strerror or str(exc)
                raise ControlError(f"cannot reach simulator at {self.path}: {reason}") from None
            self._sock = sock
            self._pending = b""
        return self._sock

    def _read_line(self, sock: socket.socket) -> bytes:
        while b"\n" not in self._pending:
            chunk = sock.recv(4096)
            if not chunk:
                raise _ClosedByPeer()
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _ClosedByPeer(Exception):
    pass
