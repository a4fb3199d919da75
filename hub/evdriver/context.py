"""Everything one driver command works with: settings, output, the path to
Central, the event stream and the ticket book; opened and closed in one place.
"""
from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from evdriver.errors import RequestFailed, Unreachable
from evdriver.events import EVENT_TYPES, EventStream
from evdriver.kafka_link import KafkaLink
from evdriver.model import Ticket
from evdriver.render import JsonOutput, TextOutput
from evdriver.socket_link import Credentials, SocketLink
from evdriver.tickets import DriverLock, TicketBook, prepare_state_dir
from evdriver.transport import CentralClient
from evwire.dispatch import Dispatcher
from evwire.trace import log

# How long a command that follows sessions waits for another process of the
# same driver (e.g. a `list` just finishing) to release the event stream.
LOCK_WAIT_S = 5.0


@dataclass
class Settings:
    driver_id: str
    secret: str  # proves driver_id: auth_request on the socket, the mac of Kafka requests
    central_host: str
    central_port: int
    kafka: str
    state_dir: Path
    timeout: float
    reconnect_grace: float
    json: bool
    tls: ssl.SSLContext | None = None  # --ca: TLS to Central
    # Every Central of --central A:7000,B:7000 after the first (central_host:central_port).
    other_centrals: tuple[tuple[str, int], ...] = ()


class DriverContext:
    def __init__(self, settings: Settings, output: TextOutput | JsonOutput,
                 kafka_logger: logging.Logger):
        self.settings = settings
        self.output = output
        self.kafka_logger = kafka_logger
        self.driver_id = settings.driver_id
        state_dir = prepare_state_dir(settings.state_dir)
        self.book = TicketBook(state_dir, settings.driver_id)
        self.lock = DriverLock(state_dir, settings.driver_id)
        self.client: CentralClient | None = None
        self.stream: EventStream | None = None
        self._away_header_shown = False
        self.away_dispatcher = Dispatcher(self, EVENT_TYPES)

    def open(self, needs_events: bool) -> None:
        """Reach Central (socket, else Kafka) and, when possible, this driver's events.

        needs_events: the command follows a session, so Kafka and the event
        stream are required rather than merely useful.
        """
        s = self.settings
        kafka_up = kafka_port_open(s.kafka)
        kafka_link = KafkaLink(s.kafka, s.driver_id, s.secret, s.timeout, self.kafka_logger) \
            if kafka_up else None
        socket_link = SocketLink(s.central_host, s.central_port, s.timeout,
                                 Credentials(s.driver_id, s.secret), s.tls, s.other_centrals)
        self.client = CentralClient(socket_link,
                                    kafka_link, self.output.notice)
        self.client.start()
        if kafka_link is None:
            if self.client.mode != "socket":
                raise Unreachable(f"{self.client.last_socket_error}, and Kafka at {s.kafka} "
                                  "is unreachable too")
            if needs_events:
                raise Unreachable(f"Kafka at {s.kafka} is unreachable: a session cannot be "
                                  "followed without it (nothing was requested)")
            self.output.notice(f"Kafka at {s.kafka} is unreachable: tickets of sessions that "
                               "ended while you were away are shown next time")
            return
        self._open_events(needs_events)

    def _open_events(self, needs_events: bool) -> None:
        if not self.lock.acquire(LOCK_WAIT_S if needs_events else 0.0):
            text = (f"another process of driver {self.driver_id} (pid {self.lock.holder()}) "
                    "is following its events")
            if needs_events:
                raise RequestFailed(text + ": run one charging command at a time")
            log("notice", text + ": tickets are shown there")
            return
        try:
            self.stream = EventStream(self.settings.kafka, self.driver_id, self.kafka_logger,
                                      timeout=self.settings.timeout)
            self.stream.catch_up(self._show_away_ticket, timeout=self.settings.timeout)
        except Unreachable as exc:
            if self.stream is not None:
                self.stream.close()
                self.stream = None
            if needs_events:
                raise
            self.output.notice(f"{exc}: tickets of sessions that ended while you were away "
                               "are shown next time")

    def _show_away_ticket(self, event: dict) -> None:
        self.away_dispatcher.handle(event)

    # Catch-up handlers, one per event type (dispatched by evwire.Dispatcher).
    def charging_data(self, msg: dict) -> None:
        """Live data of a session that is over (or still running): history, not news."""

    def charging_status_update(self, msg: dict) -> None:
        """As charging_data: only the ticket of a past session matters on start."""

    def charge_completion(self, msg: dict) -> None:
        if not self.book.is_news(msg):
            return
        if not self._away_header_shown and not self.settings.json:
            self.output.notice("while you were away:")
        self._away_header_shown = True
        self.show_ticket(msg, away=True)

    def charge_completion_notification(self, msg: dict) -> None:
        self.charge_completion(msg)

    def show_ticket(self, completion: dict, away: bool = False,
                    local_duration_s: float | None = None) -> Ticket | None:
        """Show a completion's ticket unless already shown (a correction of a failed
        start is shown: tickets.TicketBook); None if it was."""
        if not self.book.is_news(completion):
            return None
        ticket = Ticket.from_completion(completion, local_duration_s)
        ticket.corrects_earlier = self.book.corrects(completion)
        self.output.ticket(ticket, away=away)
        # Shown first, remembered second: a crash in between shows it again
        # rather than never.
        self.book.remember(ticket.session_id, ticket.reason)
        return ticket

    def request(self, msg: dict) -> dict:
        assert self.client is not None, "open() first"
        return self.client.request(msg)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        if self.client is not None:
            self.client.close()
        self.lock.release()


def kafka_port_open(bootstrap: str, timeout: float = 1.0) -> bool:
    """A quiet first check (librdkafka would log every refused connection)."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return True
        except (OSError, ValueError):
            continue
    return False
