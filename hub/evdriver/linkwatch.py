"""Notices when the links a running session depends on go down, and gives up
(ConnectionLost, exit 3: unreachable) only when they stay down for the whole grace period
with no event arriving. Reports the seed's two local events to the follower:
`connection_lost` (Central's socket closed and could not be reopened) and
`connection_error` (the Kafka broker cannot be reached); `restored` when
Kafka is back (the client itself says when Central's socket is).
"""
from __future__ import annotations

import time
from collections.abc import Callable

from evdriver.errors import ConnectionLost
from evdriver.events import EventStream
from evdriver.transport import SOCKET, CentralClient
from evwire.trace import log

RECONNECT_EVERY_S = 1.0
# Kafka is only probed after this much silence: events arriving prove it works.
PROBE_AFTER_SILENCE_S = 2.0


class LinkWatch:
    def __init__(self, client: CentralClient, stream: EventStream, grace: float,
                 report: Callable[[dict], None]):
        self.client = client
        self.stream = stream
        self.grace = grace
        self.report = report
        now = time.monotonic()
        self.last_event = now
        self.last_attempt = 0.0
        self.central_down_since: float | None = None
        self.kafka_down_since: float | None = None
        # Only a socket that was up can be lost; a driver that started on the
        # Kafka path has nothing to watch on that side.
        self.watch_socket = client.mode == SOCKET

    def event_arrived(self) -> None:
        self.last_event = time.monotonic()

    def check(self) -> None:
        now = time.monotonic()
        if now - self.last_attempt >= RECONNECT_EVERY_S:
            self.last_attempt = now
            if self.watch_socket:
                self._check_central(now)
            if now - self.last_event >= PROBE_AFTER_SILENCE_S or self.kafka_down_since:
                self._check_kafka(now)
        down_since = [t for t in (self.central_down_since, self.kafka_down_since) if t]
        if down_since and now - max(min(down_since), self.last_event) >= self.grace:
            raise ConnectionLost(
                f"connection lost for {self.grace:g} s with no news of the session; "
                "it goes on at the charge point and its ticket will be shown the next "
                "time the driver starts")

    def _check_central(self, now: float) -> None:
        if self.central_down_since is None:
            if self.client.socket_alive():
                return
            # Closed: Central's idle timeout, or Central went away. A quiet
            # reconnect covers the first; only the second is news.
            if self.client.reconnect_socket():
                log("info", f"reconnected to Central at {self.client.socket.address}")
                return
            self.central_down_since = now
            self.report({"type": "connection_lost", "link": "central",
                         "detail": self.client.last_socket_error})
        elif self.client.reconnect_socket():
            self.central_down_since = None  # the client says the socket is back

    def _check_kafka(self, now: float) -> None:
        if self.stream.broker_reachable():
            if self.kafka_down_since is not None:
                self.kafka_down_since = None
                self.report({"type": "restored", "link": "kafka",
                             "detail": f"Kafka at {self.stream.bootstrap} is reachable again"})
            return
        if self.kafka_down_since is None:
            self.kafka_down_since = now
            self.report({"type": "connection_error", "link": "kafka",
                         "detail": f"cannot reach Kafka at {self.stream.bootstrap}"})
