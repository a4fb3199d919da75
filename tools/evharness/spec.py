"""What a network on one machine is made of: charge points, drivers, timers, hosts.

Plain data, no processes: `network.Network` starts what a NetworkSpec says.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

LOCALHOST = "127.0.0.1"


@dataclass
class Timers:
    """Short timers so that faults show within seconds (production uses longer ones)."""

    heartbeat_s: float = 0.5          # Monitor -> Central heartbeats
    heartbeat_timeout_s: float = 2.0  # Central marks a silent CP DISCONNECTED after this
    health_s: float = 0.5             # Monitor -> Engine health checks
    engine_timeout_s: float = 1.0     # a health check unanswered this long = Engine unreachable
    engine_grace_s: float = 2.0       # Engine opens the relay after losing its Monitor this long
    ev_full_s: float = 2.0            # Engine ends a session when the car drew ~nothing this long
    backoff_base_s: float = 0.2       # Monitor reconnect back-off
    backoff_cap_s: float = 1.0
    time_scale: float = 30.0          # virtual hardware: simulated seconds per real second


@dataclass
class CpSpec:
    cp_id: str
    location: str = "Bay"
    max_kw: float = 22.0        # registered at Central (add-cp, register_request): MAX KW
    power_kw: float = 11.0      # the simulated CP's power limit (sim-hw --power-kw)
    car_max_kw: float = 22.0    # the simulated car's own limit: it draws min(power_kw, this)
    battery_kwh: float = 60.0
    soc: float = 20.0           # state of charge at start, percent
    plugged: bool = True
    site: str | None = None     # the site (power limit) this CP belongs to: NetworkSpec.sites
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    # Engine <-> Monitor link key (evwire.link_auth): random per CP, given to both by file.
    link_key: str = field(default_factory=lambda: secrets.token_hex(32))


@dataclass
class Host:
    """Where a tier runs: `prefix` runs a command there, `address` is its IP."""

    name: str
    address: str = LOCALHOST
    prefix: list[str] = field(default_factory=list)
    namespace: str | None = None  # network namespace, when it is a separate host


@dataclass
class NetworkSpec:
    workdir: Path
    cps: list[CpSpec]
    drivers: list[str] = field(default_factory=list)
    driver_secrets: dict[str, str] = field(default_factory=dict)  # default: generated
    sites: dict[str, float] = field(default_factory=dict)  # site id -> max kW (add-site)
    price_per_kwh: float = 0.30
    admin_token: str = field(default_factory=lambda: secrets.token_hex(8))
    runtime: str = "micropython"        # the Engine's interpreter: micropython | cpython
    kafka: str | None = None            # an existing broker; None = start our own
    kafka_namespace: str | None = None  # topic prefix; None = inherit the environment
    require_known_drivers: bool = True
    http: bool = False  # Central also serves the web console and REST API (--http)
    ocpp: bool = False  # Central also accepts OCPP 1.6J chargers (--ocpp; harness/ocpp.py)
    # TLS on Central's port, certificates from `evcharge pki` in workdir/pki:
    # None = when the hub is a separate host (a plaintext Central refuses that).
    tls: bool | None = None
    timers: Timers = field(default_factory=Timers)
    # Central's database: a SQLite file in workdir (default), or a postgresql:// URL
    # (no password: $PGPASSFILE) with the key file that encrypts its secrets.
    db_url: str = ""
    db_key_file: Path | None = None
    # A second Central address for a cold standby (Network.start_standby_central): the
    # Monitors', drivers' and admin's --central lists name both.
    standby_central: bool = False
    hub: Host = field(default_factory=lambda: Host("hub"))
    cp_host: Host = field(default_factory=lambda: Host("cp"))
    driver_host: Host = field(default_factory=lambda: Host("driver"))

    def cp(self, cp_id: str) -> CpSpec:
        for cp in self.cps:
            if cp.cp_id == cp_id:
                return cp
        raise KeyError(f"no charge point {cp_id} in this network")

    @property
    def db_path(self) -> Path:
        return Path(self.workdir) / "central.sqlite3"

    def db_args(self) -> list[str]:
        """`--db ...` as Central and its provisioning commands take it."""
        if not self.db_url:
            return ["--db", str(self.db_path)]
        return ["--db", self.db_url, "--db-key-file", str(self.db_key_file)]

    def cp_dir(self, cp_id: str) -> Path:
        return Path(self.workdir) / "cp" / cp_id

    def driver_dir(self, driver_id: str) -> Path:
        return Path(self.workdir) / "drivers" / driver_id

    def driver_secret(self, driver_id: str) -> str:
        """The driver's secret: given in driver_secrets, else made up once."""
        return self.driver_secrets.setdefault(driver_id, secrets.token_urlsafe(24))

    def link_key_file(self, cp_id: str) -> Path:
        """The CP's Engine <-> Monitor link key (mode 0600), read by both."""
        return self.cp_dir(cp_id) / "link-key"

    def cp_secret_file(self, cp_id: str) -> Path:
        """The CP's secret (mode 0600), read by add-cp and by its Monitor."""
        return self.cp_dir(cp_id) / "secret"

    @property
    def pki_dir(self) -> Path:
        """The network's CA and certificates (evharness.tls)."""
        return Path(self.workdir) / "pki"

    @property
    def admin_token_file(self) -> Path:
        """The admin token (mode 0600), read by Central and by `evcharge admin`."""
        return Path(self.workdir) / "admin-token"

    def driver_secret_file(self, driver_id: str) -> Path:
        """Where the driver's secret is kept (mode 0600), for add-driver and the driver."""
        return self.driver_dir(driver_id) / "secret"
