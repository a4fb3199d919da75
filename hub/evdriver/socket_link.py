"""The Driver's TCP link to Central: one framed-CBOR request, one answer.

Central sends nothing unasked on a driver connection (events come by Kafka),
so the link only reads while it waits for an answer. alive() notices a peer
that closed (Central killed or restarted) without sending anything.

Every connection starts with auth_request (driver_id and the MAC keyed with
the driver's secret); a refusal ends the command (Refused, exit 4): it
is not a reason to try Kafka, where the same secret signs the requests.
"""
from __future__ import annotations

import select
import socket
import ssl
import time
from dataclasses import dataclass

import evwire
from evdriver.errors import CentralRefusedConnection, ConfigProblem, LinkDown, Refused
from evhost.tlsclient import TLSClientError, wrap
from evwire import types as t
from evwire.auth import make_driver_auth_request
from evwire.trace import trace

# Answers from Central may list many charge points or sessions: larger than
# the wire's default 4096 bytes, and Central is trusted not to flood us.
ANSWER_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Credentials:
    driver_id: str
    secret: str

    def __repr__(self) -> str:  # never the secret, whoever prints this
        return f"Credentials({self.driver_id!r}, secret=...)"


class SocketLink:
    def __init__(self, host: str, port: int, timeout: float, credentials: Credentials,
                 tls: ssl.SSLContext | None = None,
                 others: tuple[tuple[str, int], ...] = ()):
        # Several Centrals (--central A:7000,B:7000): the one that answered last, else
        # each in turn (a driver's connection is short: no back-off within one connect).
        self.addresses = [(host, port), *[a for a in others if a != (host, port)]]
        self.host = host
        self.port = port
        self.timeout = timeout
        self.credentials = credentials
        self.tls = tls  # --ca: TLS to Central, its certificate verified (evhost.tlsclient)
        self.sock: socket.socket | None = None
        self.decoder = evwire.FrameDecoder(ANSWER_MAX_BYTES)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def connect(self) -> None:
        """Connect and authenticate to the Central last used, else to the next one that
        answers. All refusing: CentralRefusedConnection; any silent: LinkDown (Kafka may
        still reach one); a Central refusing this driver: Refused (they share a database,
        the others would say the same)."""
        failures: list[LinkDown] = []
        for _ in range(len(self.addresses)):
            try:
                self._connect_current()
                return
            except LinkDown as exc:  # CentralRefusedConnection included
                failures.append(exc)
                self._rotate()
        refused = all(isinstance(f, CentralRefusedConnection) for f in failures)
        text = "; ".join(str(f) for f in failures)
        raise (CentralRefusedConnection if refused else LinkDown)(text)

    def _rotate(self) -> None:
        index = self.addresses.index((self.host, self.port))
        self.host, self.port = self.addresses[(index + 1) % len(self.addresses)]

    def _connect_current(self) -> None:
        self.close()
        try:
            self.sock = socket.create_connection((self.host, self.port),
                                                 timeout=min(self.timeout, 3.0))
        except ConnectionRefusedError as exc:
            # Nothing listens there: Central is down. Said at once, not after a timeout.
            raise CentralRefusedConnection(f"cannot reach Central at {self.address} "
                                           f"({_reason(exc)})") from exc
        except OSError as exc:  # silent (timeout) or no route: Kafka may still reach it
            raise LinkDown(f"cannot reach Central at {self.address} ({_reason(exc)})") from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            self._start_tls(self.sock)
        self.decoder = evwire.FrameDecoder(ANSWER_MAX_BYTES)
        self._authenticate()

    def _start_tls(self, sock: socket.socket) -> None:
        """Verified TLS over sock. A refused certificate ends the command (ConfigProblem:
        not a reason to try Kafka or to retry); a handshake cut short is LinkDown."""
        try:
            self.sock = wrap(sock, self.tls, self.host)
        except TLSClientError as exc:
            self.sock = None
            if exc.refused:
                raise ConfigProblem(str(exc)) from None
            raise LinkDown(str(exc)) from None

    def _authenticate(self) -> None:
        """auth_request first; Refused if Central refuses (wrong secret, unknown id)."""
        creds = self.credentials
        answer = self.request(make_driver_auth_request(creds.driver_id, creds.secret))
        if answer.get("type") == t.AUTH_RESPONSE and answer.get("status") == t.SUCCESS:
            return
        self.close()
        why = answer.get("message") or answer.get("error") or answer.get("reason") or "refused"
        raise Refused(f"Central refused driver {creds.driver_id}: {why}")

    def alive(self) -> bool:
        """True while connected and the peer has not closed its end."""
        if self.sock is None:
            return False
        try:
            # select first: recv on a socket with a timeout would wait that long.
            readable, _w, _x = select.select([self.sock], [], [], 0)
            if not readable:
                return True
            peeked = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except (OSError, ValueError):
            self.close()
            return False
        if peeked == b"":
            self.close()
            return False
        return True

    def request(self, msg: dict) -> dict:
        """Send msg and return Central's answer with the same message_id (LinkDown if lost)."""
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        try:
            self.sock.sendall(evwire.encode_frame(msg))
        except OSError as exc:
            self.close()
            raise LinkDown(f"connection to Central lost while sending ({_reason(exc)})") from exc
        trace("send", msg)
        return self._await_answer(msg["message_id"])

    def _await_answer(self, message_id: str) -> dict:
        assert self.sock is not None
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise LinkDown(f"Central did not answer within {self.timeout:g} s")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                self.close()
                raise LinkDown(f"connection to Central lost ({_reason(exc)})") from exc
            if not data:
                self.close()
                raise LinkDown("Central closed the connection")
            for answer in self.decoder.feed(data):
                if isinstance(answer, dict) and answer.get("message_id") == message_id:
                    trace("recv", answer)
                    return answer

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


def _reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer: timed out"
    return exc.strerror or exc.__class__.__name__
