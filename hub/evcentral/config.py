"""Central's settings (from the command line) and the objects its handlers share."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evwire import DEFAULT_MAX

if TYPE_CHECKING:
    import ssl

    from evcentral.audit import AuditTrail
    from evcentral.auth import Authenticator
    from evcentral.cluster import Cluster
    from evcentral.db import Database
    from evcentral.registry import Registry
    from evcentral.relay import Relay
    from evcentral.sessions import Sessions
    from evcentral.sites import SiteAllocator
    from evcentral.throttle import FailureThrottle

DEFAULT_PRICE_PER_KWH = 0.30
DEFAULT_HEARTBEAT_TIMEOUT_S = 3.0
DEFAULT_START_TIMEOUT_S = 30.0
DEFAULT_KAFKA_REQUEST_TTL_S = 10.0  # the Driver's default answer timeout
# Pages of the offline authorisation lists sent per second over all CPs (about 3 KB each:
# 600 KB/s, a few % of a core here, on Central and as much on the Monitors' side): the
# lists never crowd out telemetry, at 1,000 pages/s they took 1,000 CPs' headroom.
DEFAULT_AUTH_LIST_RATE = 200.0


def default_central_id(host: str, port: int) -> str:
    """host:port, with the machine's name for a wildcard address (ids are unique
    per cluster: two Centrals on one machine differ in port)."""
    name = socket.gethostname() if host in ("", "0.0.0.0", "::") else host
    return f"{name}:{port}"[:64]


@dataclass
class Config:
    host: str
    port: int
    db_path: str  # a SQLite file, or a postgresql:// URL (no password)
    kafka: str | None = None  # None: the local broker at its default address
    db_key_file: str | None = None  # the secret-box key of a PostgreSQL db_path
    price_per_kwh: float = DEFAULT_PRICE_PER_KWH
    admin_token: str | None = None
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT_S
    require_known_drivers: bool = False
    max_frame: int = DEFAULT_MAX
    max_connections: int = 10000
    idle_timeout: float = 600.0  # close connections silent this long (Monitors beat every second)
    write_buffer_limit: int = 256 * 1024  # bytes queued to one slow client before it is dropped
    drain_timeout: float = 10.0  # a client that accepts nothing for this long is dropped
    auth_timeout: float = 5.0  # a connection not authenticated this long after accept is closed
    # Connections one address may hold; loopback is exempt unless cap_loopback (server.py).
    max_connections_per_address: int = 64
    cap_loopback: bool = False
    auth_skew: int = 120
    kafka_request_ttl: float = DEFAULT_KAFKA_REQUEST_TTL_S  # stale Kafka charge requests
    # Pages of the Monitors' offline authorisation lists sent per second, over all CPs
    # (--auth-list-rate; evcentral.list_pushes).
    auth_list_rate: float = DEFAULT_AUTH_LIST_RATE
    start_timeout: float = DEFAULT_START_TIMEOUT_S  # unanswered start -> failed session
    kafka_timeout: float = 15.0  # wait this long for Kafka before listening anyway
    history_limit: int = 20
    # Simulated seconds per real second of the CPs' virtual hardware (evsim --time-scale;
    # 1 for real chargers): the energy a CP's power allows in a session scales with it.
    time_scale: float = 1.0
    log_level: str = "info"
    # TLS on the listener (--tls-cert/--tls-key, evcentral.tls); None: plaintext.
    ssl_context: ssl.SSLContext | None = None
    # The web console and REST API (--http HOST:PORT, evweb); None: not served.
    http: tuple[str, int] | None = None
    # OCPP 1.6J gateway (--ocpp HOST:PORT, hub/evocpp); None: off.
    ocpp: tuple[str, int] | None = None
    ocpp_heartbeat_interval: int = 60  # seconds, told to chargers in BootNotification
    # This Central's name among the Centrals of one database (--central-id; default
    # host:port): owner of its CPs' leases, key of the requests routed to it.
    central_id: str = ""


@dataclass
class Hub:
    """Everything a handler may touch, passed to each handler class."""

    config: Config
    db: Database
    registry: Registry
    sessions: Sessions
    authenticator: Authenticator
    audit: AuditTrail  # admin actions and failed authentications (audit.py)
    # Failed auth_request and admin-token attempts, keyed "addr:HOST", "cp:ID",
    # "driver:ID", "admin": past a few, answers wait (throttle.py)
    throttle: FailureThrottle
    sites: SiteAllocator | None = None  # site limits (sites.py); None in bare test hubs
    # Several Centrals on one database (cluster.py, relay.py); None: one Central.
    cluster: Cluster | None = None
    relay: Relay | None = None
