"""The Monitor's settings: defaults < TOML file < EVCHARGE_* environment < flags.

Every setting has one name used everywhere: the TOML key, the flag
(`--` + name with dashes) and the environment variable (`EVCHARGE_` + NAME).
Problems raise ConfigError with a one-line text naming the setting.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from evwire.trace import LEVELS

ENV_PREFIX = "EVCHARGE_"
DEFAULT_OUTBOX = "/var/lib/evcharge/outbox.sqlite3"


class ConfigError(ValueError):
    """A setting is missing or malformed; str(e) is a one-line explanation."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_endpoint(text: str, setting: str) -> Endpoint:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{setting}: expected HOST:PORT, got '{text}'")
    return Endpoint(host.strip("[]"), int(port))


@dataclass
class MonitorConfig:
    cp_id: str = ""
    secret: str = ""
    secret_file: str = ""
    location: str = ""
    max_kw: float = 22.0
    engine: str = ""
    engine_serial: str = ""
    engine_baud: int = 115200
    central: str = ""
    kafka: str = ""
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
    # Filled in by validate(): parsed addresses.
    engine_endpoint: Endpoint | None = field(default=None, repr=False)
    central_endpoint: Endpoint | None = field(default=None, repr=False)

    def validate(self) -> MonitorConfig:
        if self.secret_file and not self.secret:
            try:
                self.secret = Path(self.secret_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"secret_file: cannot read {self.secret_file} ({exc.strerror})") from None
        for name in ("cp_id", "secret", "central"):
            if not getattr(self, name):
                raise ConfigError(f"{name} is required (--{name.replace('_', '-')}, "
                                  f"{ENV_PREFIX}{name.upper()} or '{name}' in the config file)")
        if bool(self.engine) == bool(self.engine_serial):
            raise ConfigError("exactly one of engine (HOST:PORT) or engine_serial (device) "
                              "is required")
        if self.engine:
            self.engine_endpoint = parse_endpoint(self.engine, "engine")
        self.central_endpoint = parse_endpoint(self.central, "central")
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
        return self


SETTINGS = {f.name: f for f in fields(MonitorConfig) if not f.name.endswith("_endpoint")}
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
