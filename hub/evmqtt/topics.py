"""The bridge's MQTT topics and Home Assistant discovery configs (docs/MQTT.md).

State topics (all retained) live under the prefix (`evcharge/` by default):
`PREFIX<cp>/state|power|energy|cost|driver|availability`, the bridge's own
`PREFIX bridge/availability` (its last will), and the buttons' command topics
`PREFIX<cp>/command/stop|resume`, which the bridge subscribes to only when commands
are enabled (an authenticated broker: evmqtt.cli).
"""
from __future__ import annotations

import json

from evwire import types as t

ONLINE = "online"
OFFLINE = "offline"
PRESS_STOP = "STOP"
PRESS_RESUME = "RESUME"
COMMANDS = {"stop": PRESS_STOP, "resume": PRESS_RESUME}  # button -> payload_press
STATES = [t.CP_AVAILABLE, t.CP_CHARGING, t.CP_STOPPED, t.CP_FAULTED, t.CP_DISCONNECTED]
# field -> (name shown in HA, unit, device_class, state_class)
SENSORS: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "state": ("State", None, "enum", None),
    "power": ("Power", "kW", "power", "measurement"),
    "energy": ("Session energy", "kWh", "energy", "total_increasing"),
    "cost": ("Session cost", None, "monetary", "total"),  # unit: the currency
    "driver": ("Driver", None, None, None),
}


def node_id(cp_id: str) -> str:
    """HA's object ids allow [a-zA-Z0-9_-]; cp_ids may also hold '.' and ':'."""
    return "evcharge_" + "".join(c if c.isalnum() or c in "_-" else "_" for c in cp_id)


class Topics:
    def __init__(self, prefix: str = "evcharge/", discovery: str = "homeassistant/",
                 currency: str = "EUR", commands: bool = True):
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.discovery = discovery if discovery.endswith("/") else discovery + "/"
        self.currency = currency
        self.commands = commands  # False: no buttons, no command subscription

    @property
    def bridge_availability(self) -> str:
        return f"{self.prefix}bridge/availability"

    def of(self, cp_id: str, field: str) -> str:
        return f"{self.prefix}{cp_id}/{field}"

    def command(self, cp_id: str, button: str) -> str:
        return f"{self.prefix}{cp_id}/command/{button}"

    @property
    def command_filter(self) -> str:
        return f"{self.prefix}+/command/+"

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """(cp_id, button) of a command topic; None for anything else."""
        if not topic.startswith(self.prefix):
            return None
        parts = topic[len(self.prefix):].split("/")
        if len(parts) != 3 or parts[1] != "command" or parts[2] not in COMMANDS:
            return None
        return parts[0], parts[2]

    def discovery_configs(self, cp_id: str, location: str = "",
                          max_kw: float | None = None) -> dict[str, str]:
        """Discovery topic -> JSON config: one device, its sensors and buttons. With
        commands disabled a button's config is empty: a retained empty message deletes
        the button a previous run announced, so HA shows no button that does nothing."""
        node = node_id(cp_id)
        model = "evcharge charge point" + (f" ({max_kw:g} kW)" if max_kw else "")
        device = {"identifiers": [node], "name": f"Charge point {cp_id}",
                  "manufacturer": "evcharge", "model": model}
        if location:
            device["suggested_area"] = location[:64]
        availability = [{"topic": self.bridge_availability},
                        {"topic": self.of(cp_id, "availability")}]
        common = {"device": device, "availability": availability,
                  "availability_mode": "all", "payload_available": ONLINE,
                  "payload_not_available": OFFLINE}
        out: dict[str, str] = {}
        for field, (name, unit, device_class, state_class) in SENSORS.items():
            cfg: dict = {"name": name, "unique_id": f"{node}_{field}",
                         "state_topic": self.of(cp_id, field), **common}
            if field == "cost":
                unit = self.currency
            if unit:
                cfg["unit_of_measurement"] = unit
            if device_class:
                cfg["device_class"] = device_class
            if state_class:
                cfg["state_class"] = state_class
            if field == "state":
                cfg["options"] = STATES
                # The state is shown also when the CP is DISCONNECTED: only the bridge.
                cfg["availability"] = availability[:1]
            out[f"{self.discovery}sensor/{node}/{field}/config"] = json.dumps(cfg)
        for button, press in COMMANDS.items():
            cfg = {"name": button.capitalize(), "unique_id": f"{node}_{button}",
                   "command_topic": self.command(cp_id, button), "payload_press": press,
                   **common}
            # Central keeps an operator stop or resume also for a DISCONNECTED CP.
            cfg["availability"] = availability[:1]
            out[f"{self.discovery}button/{node}/{button}/config"] = (
                json.dumps(cfg) if self.commands else "")
        return out
