# The Engine's configuration: one flat JSON object (config.json on a board,
# written by `evcharge engine` on a PC). Every key has a kind and a default;
# load() fills the defaults and names the first bad key in a ConfigError.
import json

from evengine.link import is_loopback, parse_host_port
from evwire.schema import kind_ok

# key: (kind, default). Kinds: str, int, num, bool, map, and "?" = may be null.
SPEC = {
    "cp_id": ("str", None),
    # Monitor link: TCP listen address, or a serial device (USB CDC, a pty).
    "listen": ("str?", None),
    "serial_link": ("str?", None),
    "serial_baud": ("int", 115200),
    # The per-CP key the Monitor must prove it holds (evwire.link_auth); null:
    # no handshake, and then TCP listens on loopback only.
    "link_key": ("str?", None),
    "link_auth_s": ("num", 5),  # a new peer must authenticate within this
    # Modbus RTU bus with the meter and the relay module.
    "meter": ("str", None),
    "meter_baud": ("int", 9600),
    "meter_unit": ("int", 1),
    "meter_energy_register": ("int", 0x0048),
    "modbus_timeout_ms": ("int", 200),
    "relay": ("str", "modbus"),
    "relay_unit": ("int", 2),
    "relay_coil": ("int", 0),
    "relay_on_value": ("bool", True),
    "relay_pin": ("int?", None),
    "relay_active_high": ("bool", True),
    "vehicle_unit": ("int?", None),  # None: the relay module's unit
    "vehicle_address": ("int", 0),
    "vehicle_pin": ("int?", None),  # set: the plugged-in input is a GPIO pin
    "card_reader_unit": ("int?", None),  # Modbus unit of an RFID card reader (sim-hw: 3)
    # Control pilot (IEC 61851): a Modbus holding register of the EVSE (the
    # relay module's unit unless pilot_unit), a PWM pin on a board, or none.
    "pilot": ("str", "modbus"),
    "pilot_unit": ("int?", None),
    "pilot_register": ("int", 0),
    "pilot_pin": ("int?", None),
    # Smart charging (evengine.limit): the EVSE's wiring and the fallback.
    "phases": ("int", 3),
    "nominal_voltage": ("num", 230),
    "max_current_a": ("num", 32),  # the CP's own maximum current per phase
    "safe_limit_kw": ("num", 4.2),  # held when a site limit is not renewed in time
    "limit_hold_s": ("num", 60),  # a set_charging_limit without hold_s holds this long
    # Behaviour.
    "state_dir": ("str", "."),
    "tick_s": ("num", 1.0),
    "monitor_grace_s": ("num", 10),
    "monitor_silence_s": ("num", 5),  # a Monitor heard nothing from this long is gone
    "ev_full_kw": ("num", 0.05),
    "ev_full_s": ("num", 10),
    # Authorised with no car: the relay closes if one is plugged in within this.
    "connection_timeout_s": ("num", 60),
    "meter_fail_polls": ("int", 3),
    "meter_estimate_s": ("num", 60),
    "send_timeout_s": ("num", 2),
    "max_frame": ("int", 4096),
    "menu": ("str", "auto"),  # auto (when stdin is a terminal), on, off
    "sim_control": ("str?", None),
    "watchdog_ms": ("int", 0),  # 0: no hardware watchdog
    "log_level": ("str", "info"),
    "wifi": ("map?", None),  # {"ssid": ..., "password": ...} on a board
}

REQUIRED = ("cp_id", "meter")
CHOICES = {
    "relay": ("modbus", "gpio"),
    "menu": ("auto", "on", "off"),
    "pilot": ("modbus", "pwm", "none"),
    "log_level": ("debug", "info", "notice", "warning", "error"),
}
MIN_LINK_KEY = 16  # characters: a shorter key is guessable

POSITIVE = ("link_auth_s",
            "tick_s", "monitor_grace_s", "monitor_silence_s", "ev_full_s", "meter_fail_polls",
            "modbus_timeout_ms", "send_timeout_s", "max_frame", "meter_estimate_s", "serial_baud",
            "meter_baud", "connection_timeout_s", "limit_hold_s")

_KIND_WORDS = {"str": "a text string", "int": "an integer", "num": "a number",
               "bool": "true or false", "map": "an object"}


class ConfigError(ValueError):
    pass


def check(raw):
    """A complete config from a (partial) map; raises ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError("config must be a JSON object")
    for key in raw:
        if key not in SPEC:
            raise ConfigError("unknown config key '%s'" % key)
    config = {}
    for key in SPEC:
        kind, default = SPEC[key]
        nullable = kind.endswith("?")
        kind = kind.rstrip("?")
        value = raw.get(key, default)
        if value is None:
            if key in REQUIRED:
                raise ConfigError("config key '%s' is required" % key)
            if not nullable and default is not None:
                raise ConfigError("config key '%s' must not be null" % key)
        elif not kind_ok(value, kind):
            raise ConfigError("config key '%s' must be %s" % (key, _KIND_WORDS[kind]))
        config[key] = value
    for key in CHOICES:
        if config[key] not in CHOICES[key]:
            raise ConfigError("config key '%s' must be one of %s" % (key, ", ".join(CHOICES[key])))
    for key in POSITIVE:
        if config[key] <= 0:
            raise ConfigError("config key '%s' must be positive" % key)
    if config["phases"] not in (1, 3):
        raise ConfigError("config key 'phases' must be 1 or 3")
    if not 100 <= config["nominal_voltage"] <= 480:
        raise ConfigError("config key 'nominal_voltage' must be 100-480 (volts)")
    if not 6 <= config["max_current_a"] <= 80:
        raise ConfigError("config key 'max_current_a' must be 6-80 (amperes)")
    if not 0 <= config["safe_limit_kw"] <= 1000:
        raise ConfigError("config key 'safe_limit_kw' must be 0-1000 (kW)")
    if config["pilot"] == "pwm" and config["pilot_pin"] is None:
        raise ConfigError("config key 'pilot_pin' is required when 'pilot' is pwm")
    if config["pilot_unit"] is None:
        config["pilot_unit"] = config["relay_unit"]
    if not 0 < config["pilot_unit"] < 248 or not 0 <= config["pilot_register"] <= 0xFFFF:
        raise ConfigError("config keys 'pilot_unit' / 'pilot_register' must be a Modbus unit "
                          "(1-247) and register (0-65535)")
    if config["ev_full_kw"] < 0:
        raise ConfigError("config key 'ev_full_kw' must not be negative")
    if config["listen"] is None and config["serial_link"] is None:
        raise ConfigError("config needs 'listen' (HOST:PORT) or 'serial_link' (a device)")
    key = config["link_key"]
    if key is not None and (len(key) < MIN_LINK_KEY or [c for c in key if not " " < c <= "~"]):
        raise ConfigError("config key 'link_key' must be %d-256 printable ASCII characters "
                          "without spaces (e.g. 64 hex)" % MIN_LINK_KEY)
    if config["listen"] is not None:
        try:
            parse_host_port(config["listen"])
        except ValueError as exc:
            raise ConfigError(str(exc))
    if config["relay"] == "gpio" and config["relay_pin"] is None:
        raise ConfigError("config key 'relay_pin' is required when 'relay' is gpio")
    if config["card_reader_unit"] is not None and not 0 < config["card_reader_unit"] < 248:
        raise ConfigError("config key 'card_reader_unit' must be a Modbus unit, 1-247")
    if config["vehicle_unit"] is None:
        config["vehicle_unit"] = config["relay_unit"]
    # Last, so that a config with other mistakes names those first.
    if key is None and config["listen"] is not None:
        host = parse_host_port(config["listen"])[0]
        if not is_loopback(host):
            raise ConfigError("listening on %s needs a link key (config 'link_key', "
                              "--link-key-file): without one only loopback is allowed" % host)
    return config


def load(path):
    """Read and check a JSON config file; raises ConfigError with a one-line reason."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError("cannot read config %s: %s" % (path, exc))
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ConfigError("config %s is not valid JSON: %s" % (path, exc))
    return check(raw)
