"""The Monitor's settings: defaults < TOML file < EVCHARGE_* environment < flags.

Every setting has one name used everywhere: the TOML key, the flag
(`--` + name with dashes) and the environment variable (`EVCHARGE_` + NAME).
Problems raise ConfigError with a one-line text naming the setting.
"""
from __future__ import annotations

import os
import ssl
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from evhost.logsetup import FORMATS
from evwire.trace import LEVELS, log

ENV_PREFIX = "EVCHARGE_"
DEFAULT_OUTBOX = "/var/lib/evcharge/outbox.sqlite3"
MAX_SECRET_BYTES = 1024
MIN_ENGINE_KEY = 16  # as the Engine's config demands of its link key
INLINE_SECRETS = ("secret", "engine_key")  # settings a config file must not show to others


class ConfigError(ValueError):
    """A setting is missing or malformed; str(e) is a one-line explanation."""


MAX_CENTRALS = 16  # addresses in `central`: a list of hubs, not a scan


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_endpoints(text: str, setting: str) -> list[Endpoint]:
    """HOST:PORT[,HOST:PORT...]: the addresses, in the order given, each once."""
    endpoints: list[Endpoint] = []
    for part in text.split(","):
        endpoint = parse_endpoint(part, setting)
        if endpoint not in endpoints:
            endpoints.append(endpoint)
    if len(endpoints) > MAX_CENTRALS:
        raise ConfigError(f"{setting}: at most {MAX_CENTRALS} addresses, got {len(endpoints)}")
    return endpoints


def parse_endpoint(text: str, setting: str) -> Endpoint:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{setting}: expected HOST:PORT, got '{text}'")
    return Endpoint(host.strip("[]"), int(port))


@dataclass
class MonitorConfig:
    cp_id: str = ""
    secret: str = field(default="", repr=False)  # never in a log line or a traceback
    secret_file: str = ""
    location: str = ""
    max_kw: float = 22.0
    engine: str = ""
    engine_serial: str = ""
    engine_baud: int = 115200
    # The link key the Engine demands (evwire.link_auth); "" = no handshake.
    engine_key: str = field(default="", repr=False)
    engine_key_file: str = ""
    central: str = ""
    # TLS to Central (evmonitor.tls): the CA of its certificate; this CP's own
    # certificate and key for a Central that asks for one (--tls-client-ca).
    ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    kafka: str = ""
    # librdkafka security properties (SASL_SSL...; evkafka.properties).
    kafka_config: str = ""
    outbox: str = DEFAULT_OUTBOX
    health_interval: float = 1.0
    heartbeat_interval: float = 1.0
    engine_timeout: float = 1.0
    command_timeout: float = 5.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    backoff_reset: float = 10.0
    engine_backoff_cap: float = 2.0
    outbox_bound: int = 10000
    thin_keep_every: int = 10
    kafka_in_flight: int = 1000
    shutdown_flush: float = 3.0
    panel: bool = False
    log_level: str = "info"
    log_format: str = "text"  # or json (evhost.logsetup)
    # Filled in by validate(): parsed addresses, TLS context, Kafka security.
    engine_endpoint: Endpoint | None = field(default=None, repr=False)
    central_endpoint: Endpoint | None = field(default=None, repr=False)  # the first of:
    central_endpoints: list[Endpoint] = field(default_factory=list, repr=False)
    central_tls: ssl.SSLContext | None = field(default=None, repr=False)
    kafka_security: dict = field(default_factory=dict, repr=False)
    # Whether the secret came from secret_file (validate()), which reload_secret re-reads.
    secret_from_file: ClassVar[bool] = False

    def validate(self) -> MonitorConfig:
        if self.secret_file and not self.secret:
            self.secret = read_secret_file(self.secret_file)
            self.secret_from_file = True
        if not self.secret:
            raise ConfigError(f"secret is required (--secret-file FILE, {ENV_PREFIX}SECRET_FILE "
                              f"or {ENV_PREFIX}SECRET)")
        for name in ("cp_id", "central"):
            if not getattr(self, name):
                raise ConfigError(f"{name} is required (--{name.replace('_', '-')}, "
                                  f"{ENV_PREFIX}{name.upper()} or '{name}' in the config file)")
        if bool(self.engine) == bool(self.engine_serial):
            raise ConfigError("exactly one of engine (HOST:PORT) or engine_serial (device) "
                              "is required")
        if self.engine:
            self.engine_endpoint = parse_endpoint(self.engine, "engine")
        _check_engine_key(self)
        self.central_endpoints = parse_endpoints(self.central, "central")
        self.central_endpoint = self.central_endpoints[0]
        _check_security(self)
        if self.kafka:
            parse_endpoint(self.kafka.split(",")[0], "kafka")
        for name in ("health_interval", "heartbeat_interval", "engine_timeout",
                     "command_timeout", "backoff_base", "backoff_cap", "engine_backoff_cap",
                     "max_kw", "outbox_bound", "thin_keep_every", "kafka_in_flight",
                     "engine_baud"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be greater than 0, got {getattr(self, name)}")
        for name in ("backoff_reset", "shutdown_flush"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.thin_keep_every < 2:
            raise ConfigError("thin_keep_every must be at least 2")
        if self.log_level not in LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LEVELS)}, "
                              f"got '{self.log_level}'")
        if self.log_format not in FORMATS:
            raise ConfigError(f"log_format must be one of {', '.join(FORMATS)}, "
                              f"got '{self.log_format}'")
        return self

    def reload_secret(self) -> bool:
        """Re-read secret_file (an operator rotated the secret and updated the file);
        True if the secret changed. A file that cannot be read now keeps the old one."""
        if not self.secret_from_file:
            return False
        try:
            secret = read_secret_file(self.secret_file)
        except ConfigError as exc:
            log("error", f"cannot re-read the secret: {exc}")
            return False
        if secret == self.secret:
            return False
        self.secret = secret
        log("info", f"new secret read from {self.secret_file}")
        return True


def _check_security(cfg: MonitorConfig) -> None:
    from evkafka import properties  # only here: the config tests need no Kafka client
    from evmonitor import tls

    cfg.central_tls = tls.client_context(cfg)
    if cfg.kafka_config:
        try:
            cfg.kafka_security = properties.load(cfg.kafka_config)
        except properties.KafkaConfigError as exc:
            raise ConfigError(f"kafka_config: {exc}") from None


def _check_engine_key(cfg: MonitorConfig) -> None:
    if cfg.engine_key_file:
        try:
            cfg.engine_key = read_secret_file(cfg.engine_key_file)
        except ConfigError as exc:  # its text names secret_file: say which file it was
            raise ConfigError(f"engine_key_file: {str(exc).partition(': ')[2]}") from None
    key = cfg.engine_key
    if key and (not MIN_ENGINE_KEY <= len(key) <= 256 or any(not " " < c <= "~" for c in key)):
        raise ConfigError(f"engine_key must be {MIN_ENGINE_KEY}-256 printable ASCII characters "
                          "without spaces (e.g. 64 hex), the same as the Engine's link key")


def read_secret_file(path: str) -> str:
    """The CP secret in path, which only its owner may read (the secret never goes on
    the command line, where anyone on the host sees it)."""
    try:
        with open(path, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode & 0o777
            data = fh.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"secret_file: cannot read {path} ({exc.strerror})") from None
    if mode & 0o077:
        raise ConfigError(f"secret_file: {path} may be read by others (mode {mode:04o}): "
                          f"chmod 600 {path}")
    try:
        secret = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"secret_file: {path} is not UTF-8 text") from None
    if len(data) > MAX_SECRET_BYTES or not secret or not secret.isprintable():
        raise ConfigError(f"secret_file: {path} must hold one line of 1 to "
                          f"{MAX_SECRET_BYTES} printable characters")
    return secret


# Set by validate(), not settings.
DERIVED = ("_endpoint", "_endpoints", "central_tls", "kafka_security")
SETTINGS = {f.name: f for f in fields(MonitorConfig) if not f.name.endswith(DERIVED)}
_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False}


def _kind(name: str) -> type:
    return type(getattr(MonitorConfig(), name))


def coerce(name: str, value: Any, origin: str) -> Any:
    """Turn a raw value (TOML value or environment text) into the setting's type."""
    kind = _kind(name)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            return _BOOL_WORDS[str(value).strip().lower()]
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if not isinstance(value, str):
            raise ValueError
        return value
    except (KeyError, TypeError, ValueError):
        word = {bool: "true or false", int: "an integer", float: "a number", str: "text"}[kind]
        raise ConfigError(f"{origin}: {name} must be {word}, got {value!r}") from None


def read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode & 0o777
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    # Accept either top-level keys or a [monitor] table (one file may serve several tools).
    table = data.get("monitor", data) if isinstance(data.get("monitor"), dict) else data
    values = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in SETTINGS:
            raise ConfigError(f"config file {path}: unknown setting '{key}'")
        values[name] = coerce(name, value, f"config file {path}")
    inline = [name for name in INLINE_SECRETS if values.get(name)]
    if inline and mode & 0o077:  # as read_secret_file demands of a secret file
        raise ConfigError(f"config file {path} holds {' and '.join(inline)} inline but may be "
                          f"read by others (mode {mode:04o}): chmod 600 {path}, or use "
                          f"{inline[0]}_file")
    return values


def read_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    values = {}
    for name in SETTINGS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = coerce(name, raw, ENV_PREFIX + name.upper())
    return values


def build(file_path: str | None, flag_values: dict[str, Any],
          environ: dict[str, str] | None = None) -> MonitorConfig:
    """Merge the layers (flags win) and validate; raises ConfigError."""
    layers = [read_file(file_path) if file_path else {}, read_env(environ),
              {k: v for k, v in flag_values.items() if v is not None}]
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer.get("engine") or layer.get("engine_serial"):
            # Choosing a transport in a higher layer replaces the lower layer's choice.
            merged.pop("engine", None)
            merged.pop("engine_serial", None)
        merged.update(layer)
    return MonitorConfig(**merged).validate()
