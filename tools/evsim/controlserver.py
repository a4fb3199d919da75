"""The control channel's server side: a Unix stream socket, one command per
line, one JSON reply line per command. Runs inside the simulator's selector
loop (no threads), so commands and Modbus requests never race."""
from __future__ import annotations

import json
import selectors
import socket
from pathlib import Path

from evsim.commands import ControlCommands
from evwire import trace

MAX_LINE = 1024
# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107


class ControlSocketError(Exception):
    """The control socket cannot be created; str() says why."""


def check_socket_path(path: Path) -> None:
    length = len(str(path).encode())
    if length > MAX_SOCKET_PATH:
        raise ControlSocketError(
            f"control socket path is {length} bytes, the limit is {MAX_SOCKET_PATH}: {path}"
            " (give a shorter --control PATH)"
        )


def _someone_listens(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
            return True
        except OSError:
            return False


class ControlServer:
    def __init__(self, path: Path, commands: ControlCommands, selector: selectors.BaseSelector):
        self.path = Path(path)
        self.commands = commands
        self.selector = selector
        check_socket_path(self.path)
        if self.path.is_socket():
            if _someone_listens(self.path):
                raise ControlSocketError(f"{self.path} is in use by another simulator")
            self.path.unlink()  # left behind by a simulator that was killed
        elif self.path.exists() or self.path.is_symlink():
            raise ControlSocketError(f"{self.path} exists and is not a socket; not replacing it")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(str(self.path))
        except OSError as exc:
            self.sock.close()
            raise ControlSocketError(f"cannot bind control socket {self.path}: {exc}") from None
        self.sock.listen(8)
        self.sock.setblocking(False)
        self._clients: dict[socket.socket, bytearray] = {}
        selector.register(self.sock, selectors.EVENT_READ, self._accept)

    def _accept(self) -> None:
        try:
            conn, _addr = self.sock.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self._clients[conn] = bytearray()
        self.selector.register(conn, selectors.EVENT_READ, lambda: self._readable(conn))

    def _readable(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buffer = self._clients[conn]
        buffer += data
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if not self._reply(conn, self._run(line)):
                return
        if len(buffer) > MAX_LINE:
            self._reply(conn, {"ok": False, "error": f"command longer than {MAX_LINE} bytes"})
            self._drop(conn)

    def _run(self, raw: bytes) -> dict:
        try:
            line = raw.decode().strip()
        except UnicodeDecodeError:
            return {"ok": False, "error": "command is not UTF-8 text"}
        reply = self.commands.execute(line)
        if reply["ok"]:
            trace.log("info", f"control: {line} -> ok")
        else:
            trace.log("warning", f"control: {line!r} -> {reply['error']}")
        return reply

    def _reply(self, conn: socket.socket, reply: dict) -> bool:
        try:
            conn.sendall(json.dumps(reply).encode() + b"\n")
            return True
        except OSError:  # the client went away or stopped reading
            self._drop(conn)
            return False

    def _drop(self, conn: socket.socket) -> None:
        self._clients.pop(conn, None)
        try:
            self.selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def close(self) -> None:
        for conn in list(self._clients):
            self._drop(conn)
        self.selector.unregister(self.sock)
        self.sock.close()
        try:
            self.path.unlink()
        except OSError:
            pass
