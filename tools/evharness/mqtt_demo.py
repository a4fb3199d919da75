"""`evcharge demo --mqtt [HOST:PORT]`: the bridge beside the demo network."""
from __future__ import annotations

from evharness.network import Network
from evharness.procs import Proc
from evmqtt.embedded import DEFAULT_EMBEDDED, HA_USER, default_state_dir, password_path

EMBEDDED = "embedded"  # --mqtt given without an address


def start_bridge(net: Network, mqtt: str) -> Proc:
    """Start `evcharge mqtt-bridge` on the network's Kafka and Central (its log in the
    network's logs); returns once it says ready."""
    args = ["mqtt-bridge", "--kafka", net.kafka, "--central", net.central_address,
            "--admin-token-file", str(net.spec.admin_token_file)]
    if mqtt != EMBEDDED:
        args += ["--mqtt", mqtt]
    if net.tls is not None:
        args += ["--ca", net.tls.ca]
    return net._start("mqtt-bridge", net.spec.hub, args, timeout=60)


def watch_help(mqtt: str) -> str:
    if mqtt != EMBEDDED:  # the bridge has no credentials there: state only, no buttons
        host, _, port = mqtt.rpartition(":")
        return (f"MQTT: the bridge publishes under evcharge/ on {host}:{port} (docs/MQTT.md;"
                f" without credentials, state only). Watch it with:\n  mosquitto_sub -h "
                f"{host} -p {port} -v -t 'evcharge/#'")
    host, _, port = DEFAULT_EMBEDDED.rpartition(":")
    # The embedded broker lets in only its users; the password stays in its 0600 file.
    pw_file = password_path(default_state_dir(DEFAULT_EMBEDDED), HA_USER)
    return (f"MQTT: the bridge publishes under evcharge/ on {host}:{port} (docs/MQTT.md), "
            f"user {HA_USER}, password in {pw_file}. Watch it with:\n  .venv/bin/python -c "
            f"\"import paho.mqtt.subscribe as s; s.callback(lambda c, u, m: print(m.topic, "
            f"m.payload.decode()), 'evcharge/#', hostname='{host}', port={port}, auth="
            f"{{'username': '{HA_USER}', 'password': open('{pw_file}').read().strip()}})\"")
