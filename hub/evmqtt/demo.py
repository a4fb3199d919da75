"""`evcharge demo --mqtt [HOST:PORT]`: the bridge beside the demo network."""
from __future__ import annotations

from evcharge.harness.network import Network
from evcharge.harness.procs import Proc
from evmqtt.embedded import DEFAULT_EMBEDDED

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
    host, _, port = (DEFAULT_EMBEDDED if mqtt == EMBEDDED else mqtt).rpartition(":")
    return (f"MQTT: the bridge publishes under evcharge/ on {host}:{port} (docs/MQTT.md). "
            f"Watch it with:\n  mosquitto_sub -h {host} -p {port} -v -t 'evcharge/#'\n"
            f"or, without mosquitto-clients:\n  .venv/bin/python -c \"import paho.mqtt.subscribe"
            f" as s; s.callback(lambda c, u, m: print(m.topic, m.payload.decode()), "
            f"'evcharge/#', hostname='{host}', port={port})\"")
