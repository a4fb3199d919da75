"""evcharge mqtt-bridge: charge point state on MQTT, with Home Assistant discovery.

Without --mqtt it starts an embedded broker (amqtt) on 127.0.0.1:1883, which
keeps running after the bridge exits; it lets in only the users `bridge` and
`homeassistant`, whose generated passwords are in the state directory (0700).
With --mqtt HOST:PORT it uses that broker, and acts on the Stop/Resume command
topics only when it logs in with --mqtt-username and a password.
Secrets come from files (0600) or the environment, never the command line.
See docs/MQTT.md.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from evhost.cliout import ConfigProblem, Parser, UsageError
from evhost.logsetup import add_log_options, setup_logging
from evhost.secretfile import SecretFileError, read_secret_file
from evhost.tlsclient import TLSClientError, client_context
from evkafka import properties
from evkafka.broker import DEFAULT_LOCAL_BROKER, parse_hostport
from evkafka.client import use_security
from evkafka.properties import KafkaConfigError
from evmqtt.embedded import (
    DEFAULT_EMBEDDED,
    HA_USER,
    EmbeddedBrokerError,
    ensure_embedded_broker,
    password_path,
)
from evwire.trace import announce, log

ENV_ADMIN_TOKEN = "EVCHARGE_ADMIN_TOKEN"
ENV_MQTT_PASSWORD = "EVCHARGE_MQTT_PASSWORD"
PROG = "evcharge mqtt-bridge"


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kafka", default=DEFAULT_LOCAL_BROKER,
                   help=f"Kafka bootstrap HOST:PORT (default {DEFAULT_LOCAL_BROKER})")
    p.add_argument("--kafka-config", metavar="FILE",
                   help="Kafka client properties (SASL_SSL, CA), as for Central")
    p.add_argument("--mqtt", metavar="HOST:PORT",
                   help=f"MQTT broker; default: an embedded broker on {DEFAULT_EMBEDDED}")
    p.add_argument("--embedded-broker", default=DEFAULT_EMBEDDED, metavar="HOST:PORT",
                   help=f"where the embedded broker listens without --mqtt (loopback; default"
                        f" {DEFAULT_EMBEDDED}); a port already in use is an error")
    p.add_argument("--embedded-state-dir", metavar="DIR",
                   help="the embedded broker's private directory: passwords, log (default"
                        " $XDG_STATE_HOME/evcharge/mqtt-broker-HOST-PORT)")
    p.add_argument("--mqtt-username", metavar="NAME",
                   help="user at the --mqtt broker; without user and password the bridge"
                        " publishes state only and ignores the command topics")
    p.add_argument("--mqtt-password-file", metavar="PATH",
                   help=f"file (mode 0600) with the MQTT password (default ${ENV_MQTT_PASSWORD})")
    p.add_argument("--mqtt-ca", metavar="PEM", help="TLS to the MQTT broker, trusting this CA")
    p.add_argument("--mqtt-client-id", default="", metavar="ID")
    p.add_argument("--prefix", default="evcharge/", help="state topic prefix (default evcharge/)")
    p.add_argument("--discovery-prefix", default="homeassistant/",
                   help="Home Assistant discovery prefix (default homeassistant/)")
    p.add_argument("--currency", default="EUR", help="unit of the cost sensor (default EUR)")
    p.add_argument("--central", default="127.0.0.1:7000", metavar="HOST:PORT",
                   help="Central, for the stop/resume buttons (default 127.0.0.1:7000)")
    p.add_argument("--admin-token-file", metavar="PATH",
                   help=f"file (mode 0600) with the admin token (default ${ENV_ADMIN_TOKEN})")
    p.add_argument("--ca", metavar="PEM", help="TLS to Central, trusting this CA")
    add_log_options(p)
    return p


def secret(path: str | None, env: str, what: str) -> str | None:
    if path:
        try:
            return read_secret_file(path)
        except SecretFileError as exc:
            raise ConfigProblem(f"{what}: {exc}") from None
    value = os.environ.get(env, "").strip()
    return value or None


def check_prefix(text: str, flag: str) -> str:
    if not text or any(c in text for c in "+#\0") or text.startswith("/") or len(text) > 100:
        raise UsageError(f"{flag} '{text[:40]}': no '+', '#' or leading '/', at most 100 chars")
    return text if text.endswith("/") else text + "/"


def embedded(address: str, state_dir: str | None) -> tuple[str, str]:
    """Start (or find again) the embedded broker; the bridge's user and password."""
    try:
        broker = ensure_embedded_broker(address, state_dir)
    except (EmbeddedBrokerError, OSError) as exc:
        raise ConfigProblem(f"embedded MQTT broker: {exc}") from None
    how = "started" if broker.started else "reusing"
    log("notice", f"{how} the embedded MQTT broker on {address} (pid {broker.pid}, log "
                  f"{broker.log_path}); it keeps running after the bridge exits. Users "
                  f"{broker.username} and {HA_USER}, passwords in "
                  f"{password_path(broker.state_dir, '<user>')}")
    return broker.username, broker.password


def build(ns: argparse.Namespace):
    """The bridge from the arguments; UsageError (the command line) or ConfigProblem (a
    file, the embedded broker's address) for anything wrong: hub/evcharge/cli.py prints
    it as the one `evcharge mqtt-bridge: error: ...` line."""
    from evmqtt.bridge import MqttBridge, MqttSettings
    from evmqtt.commands import CommandWorker
    from evmqtt.topics import Topics

    try:
        parse_hostport(ns.kafka)
        central_host, central_port = parse_hostport(ns.central)
        mqtt_address = ns.mqtt or ns.embedded_broker
        mqtt_host, mqtt_port = parse_hostport(mqtt_address)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(str(exc)) from None
    try:
        if ns.kafka_config:
            use_security(properties.load(ns.kafka_config))
        central_tls = client_context(ns.ca) if ns.ca else None
    except (KafkaConfigError, TLSClientError) as exc:
        raise ConfigProblem(str(exc)) from None
    if ns.mqtt_ca and not os.path.isfile(ns.mqtt_ca):
        raise ConfigProblem(f"--mqtt-ca {ns.mqtt_ca}: no such file")
    token = secret(ns.admin_token_file, ENV_ADMIN_TOKEN, "admin token")
    prefix = check_prefix(ns.prefix, "--prefix")
    discovery = check_prefix(ns.discovery_prefix, "--discovery-prefix")
    if ns.mqtt:
        username = ns.mqtt_username
        password = secret(ns.mqtt_password_file, ENV_MQTT_PASSWORD, "MQTT password")
        if password and not username:
            raise UsageError("an MQTT password needs --mqtt-username")
    else:
        if ns.mqtt_username or ns.mqtt_password_file:
            raise UsageError("--mqtt-username/--mqtt-password-file are for --mqtt; the "
                             "embedded broker makes its own (see --embedded-state-dir)")
        if mqtt_host not in ("127.0.0.1", "localhost", "::1"):
            raise UsageError("--embedded-broker: loopback only")
        username, password = embedded(mqtt_address, ns.embedded_state_dir)
    # Anyone who can publish on the broker could press Stop: act on commands only on a
    # broker that knows who we (and so, by its ACL, who the others) are.
    commands_on = bool(username and password)
    if not commands_on:
        log("warning", "commands disabled: no --mqtt-username and password (file or "
                       f"${ENV_MQTT_PASSWORD}) for {mqtt_address}, so anyone there could "
                       "press Stop; publishing state only, no Stop/Resume buttons")
    topics = Topics(prefix, discovery, ns.currency[:8], commands=commands_on)
    settings = MqttSettings(mqtt_host, mqtt_port, username, password, ns.mqtt_ca,
                            ns.mqtt_client_id)
    commands = CommandWorker(central_host, central_port, token, central_tls)
    return MqttBridge(ns.kafka, settings, topics, commands)


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(ns, "evcharge-mqtt-bridge")
    bridge = build(ns)  # its typed errors become the one line in hub/evcharge/cli.py

    def stop(_signum, _frame) -> None:
        bridge.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bridge.start()
    announce(f"ready: Kafka {ns.kafka} -> MQTT {bridge.settings.host}:"  # whatever the level
             f"{bridge.settings.port} under {bridge.topics.prefix}")
    try:
        bridge.run_kafka()
    finally:
        bridge.stop()
    log("notice", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
