"""Socket first, Kafka as fallback: how every driver request reaches Central.

Each request tries Central's socket (reconnecting if the last connection
died); only when the socket is silent (no answer to the connect or to the
request) or the network to it is down does it go by Kafka, with one clear line
saying so. A refused connection means Central is not running: the command
ends at once with Unreachable (exit 3) instead of waiting out the timeout on
Kafka, as it does when neither path answers.
"""
from __future__ import annotations

from collections.abc import Callable

from evdriver.errors import CentralRefusedConnection, LinkDown, Unreachable
from evdriver.kafka_link import KafkaLink
from evdriver.socket_link import SocketLink
from evwire.trace import log

SOCKET = "socket"
KAFKA = "kafka"


class CentralClient:
    def __init__(self, socket_link: SocketLink, kafka_link: KafkaLink | None,
                 notice: Callable[[str], None]):
        self.socket = socket_link
        self.kafka = kafka_link
        self.notice = notice
        self.mode: str | None = None
        self.last_socket_error = ""

    def start(self) -> None:
        """Open the socket now, so the user learns at once which path is in use."""
        self._ensure_socket(refused_is_final=True)

    def request(self, msg: dict) -> dict:
        if self._ensure_socket(refused_is_final=True):
            try:
                return self.socket.request(msg)
            except LinkDown as first:
                log("warning", f"{msg['type']} id={msg['message_id']}: {first}; retrying")
                # Same message_id on the retry: Central treats it as the same request.
                if self._ensure_socket(refused_is_final=True):
                    try:
                        return self.socket.request(msg)
                    except LinkDown as second:
                        self.last_socket_error = str(second)
                        self._switch_to_kafka()
        return self._request_by_kafka(msg)

    def socket_alive(self) -> bool:
        return self.socket.alive()

    def reconnect_socket(self) -> bool:
        # Mid-session a refused socket is Central restarting: LinkWatch's grace decides.
        return self._ensure_socket(refused_is_final=False)

    def _ensure_socket(self, refused_is_final: bool) -> bool:
        if self.socket.alive():
            return True
        try:
            self.socket.connect()
        except CentralRefusedConnection as exc:
            self.last_socket_error = str(exc)
            if refused_is_final:
                raise Unreachable(str(exc)) from None
            self._switch_to_kafka()
            return False
        except LinkDown as exc:
            self.last_socket_error = str(exc)
            self._switch_to_kafka()
            return False
        if self.mode == KAFKA:
            self.notice(f"Central's socket is back at {self.socket.address}: using it again")
        self.mode = SOCKET
        return True

    def _switch_to_kafka(self) -> None:
        if self.mode == KAFKA:
            return
        self.mode = KAFKA
        if self.kafka is not None:
            self.notice("Central's socket is unreachable: using Kafka")
        log("warning", self.last_socket_error)

    def _request_by_kafka(self, msg: dict) -> dict:
        if self.kafka is None:
            raise Unreachable(f"{self.last_socket_error}, and Kafka is unreachable too")
        try:
            return self.kafka.request(msg)
        except LinkDown as exc:
            raise Unreachable(f"{self.last_socket_error}, and by Kafka: {exc}") from exc

    def close(self) -> None:
        self.socket.close()
        if self.kafka is not None:
            self.kafka.close()
