"""The bridge: cp-status records from Kafka -> retained MQTT values and HA discovery;
HA's stop/resume buttons -> Central admin commands.

Three threads: this one consumes Kafka (the compacted cp-status topic, always
read from its beginning: the bridge keeps no state of its own), paho's network
thread (reconnects with back-off; on every connect the bridge republishes its
will's counterpart, discovery and every retained value), and the command
worker (evmqtt.commands), so a slow Central never stalls MQTT or Kafka.
"""
from __future__ import annotations

import os
import ssl
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion

from evkafka import names
from evkafka.client import consumer_config
from evkafka.compacted import ensure_compacted_topic
from evmqtt.commands import CommandWorker
from evmqtt.topics import OFFLINE, ONLINE, Topics
from evmqtt.views import CpView
from evwire import loads, validate
from evwire import types as t
from evwire.trace import log

MAX_QUEUED = 200_000  # paho's outgoing queue: 1,000 CPs x every topic, many times over
MAX_CPS = 100_000  # views kept; records for more CPs are dropped (bounded memory)
KEEPALIVE_S = 30


@dataclass
class MqttSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    ca: str | None = None  # --mqtt-ca: TLS to the broker, verified against this PEM
    client_id: str = ""
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0


class OnceLog:
    """At most `per_second` lines a second; the ones held back are counted in the next."""

    def __init__(self, per_second: int = 20):
        self.per_second = per_second
        self.window = 0
        self.count = 0
        self.held = 0

    def __call__(self, level: str, text: str) -> None:
        now = int(time.monotonic())
        if now != self.window:
            if self.held:
                log("warning", f"{self.held} similar line(s) not logged")
            self.window, self.count, self.held = now, 0, 0
        self.count += 1
        if self.count > self.per_second:
            self.held += 1
            return
        log(level, text)


class MqttBridge:
    def __init__(self, kafka: str, mqtt_settings: MqttSettings, topics: Topics,
                 commands: CommandWorker):
        self.kafka = kafka
        self.settings = mqtt_settings
        self.topics = topics
        self.commands = commands
        self.views: dict[str, CpView] = {}
        self.lock = threading.Lock()  # views and publishing: Kafka thread vs paho's
        self.connected = False
        self.caught_up = False  # replayed the topic up to its end at start: publish from now
        self.stopping = threading.Event()
        self.bad = OnceLog()
        self.records = 0
        self.published = 0
        self._queue_full_logged = False
        self.client = self._make_client()
        commands.known = lambda cp_id: cp_id in self.views
        commands.bad = self.bad

    # -- MQTT ---------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2,
                             client_id=s.client_id or f"evcharge-bridge-{os.getpid()}",
                             protocol=mqtt.MQTTv311)
        client.max_queued_messages_set(MAX_QUEUED)
        client.reconnect_delay_set(min_delay=max(1, int(s.reconnect_min)),
                                   max_delay=max(1, int(s.reconnect_max)))
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.ca:
            client.tls_set(ca_certs=s.ca, cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        # The broker publishes this for us when we vanish (SIGKILL, lost network).
        client.will_set(self.topics.bridge_availability, OFFLINE, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client, _userdata, _flags, reason_code, _props=None) -> None:
        if reason_code.is_failure:
            log("error", f"mqtt: broker {self.settings.host}:{self.settings.port} refused the "
                         f"connection: {reason_code} (check --mqtt-username and the password)")
            return
        if self.topics.commands:
            client.subscribe(self.topics.command_filter, qos=1)
        with self.lock:
            self.connected = True
            self._publish(self.topics.bridge_availability, ONLINE)
            if self.caught_up:
                self._republish_all()
        log("info", f"mqtt: connected to {self.settings.host}:{self.settings.port}, "
                    f"{len(self.views)} CP(s) published")

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props=None) -> None:
        with self.lock:
            self.connected = False
        if not self.stopping.is_set():
            log("warning", f"mqtt: connection lost ({reason_code}); reconnecting with back-off")

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        if not self.topics.commands:  # never subscribed: whatever comes is not ours to act on
            self.bad("warning", f"mqtt: message on {message.topic[:200]} ignored: commands "
                                "are disabled")
            return
        self.commands.offer(message.topic, bytes(message.payload[:256]), len(message.payload),
                            self.topics)

    def _publish(self, topic: str, payload: str) -> None:
        """Retained, QoS 1; callers hold self.lock. Skipped while disconnected: the
        connect callback republishes everything."""
        if not self.connected:
            return
        info = self.client.publish(topic, payload, qos=1, retain=True)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            if not self._queue_full_logged:
                self._queue_full_logged = True
                log("warning", "mqtt: outgoing queue full, values dropped until it drains")
            return
        self._queue_full_logged = False
        self.published += 1

    def _publish_cp(self, view: CpView, fields: dict[str, str], discovery: bool) -> None:
        if discovery:
            for topic, config in self.topics.discovery_configs(view.cp_id, view.location,
                                                               view.max_kw).items():
                self._publish(topic, config)
        for field, value in fields.items():
            self._publish(self.topics.of(view.cp_id, field), value)

    def _republish_all(self) -> None:
        for view in self.views.values():
            self._publish_cp(view, dict(view.values), discovery=True)

    # -- Kafka --------------------------------------------------------------------
    def handle_record(self, value: bytes | None, key: bytes | None) -> None:
        """One cp-status record; a bad one is logged and costs only itself."""
        try:
            msg = loads(value or b"")
            validate(msg)
            if msg.get("type") != t.CP_STATUS:
                raise ValueError(f"a {msg.get('type')} record, not cp_status")
            if key is not None and key.decode("utf-8", "replace") != msg["cp_id"]:
                raise ValueError("its key is not its cp_id")
        except Exception as exc:
            self.bad("warning", f"cp-status record ignored: {exc}")
            return
        self.records += 1
        cp_id = msg["cp_id"]
        with self.lock:
            view = self.views.get(cp_id)
            new = view is None
            if new:
                if len(self.views) >= MAX_CPS:
                    self.bad("warning", f"cp-status: more than {MAX_CPS} CPs, {cp_id} ignored")
                    return
                view = self.views[cp_id] = CpView(cp_id)
            changed = view.apply(msg)
            if self.caught_up:
                self._publish_cp(view, changed, discovery=new)

    def _consumer(self) -> tuple[Consumer, dict[int, int]]:
        topic = names.cp_status()
        ensure_compacted_topic(self.kafka, topic)
        conf = consumer_config(self.kafka, names.namespace() + "evcharge-mqtt-bridge",
                               client_id="evcharge-mqtt-bridge")
        conf["fetch.wait.max.ms"] = 50
        consumer = Consumer(conf)
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        # From the beginning, never committing: the whole state, every start.
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        return consumer, ends

    def _catch_up(self) -> None:
        with self.lock:
            self.caught_up = True
            if self.connected:
                self._republish_all()
        log("info", f"cp-status: {len(self.views)} CP(s) known after {self.records} record(s);"
                    " publishing live")

    def run_kafka(self) -> None:
        while not self.stopping.is_set():
            try:
                consumer, ends = self._consumer()
            except (KafkaException, RuntimeError, KeyError) as exc:
                log("warning", f"kafka: {self.kafka} not usable yet ({exc}); retrying")
                self.stopping.wait(2.0)
                continue
            log("info", f"kafka: reading {names.cp_status()} from its beginning")
            if not ends:
                self._catch_up()
            try:
                while not self.stopping.is_set():
                    # consume(n, timeout) waits for all n or the timeout: a poll for the
                    # first record, then whatever else is there, keeps latency low.
                    first = consumer.poll(0.2)
                    if first is None:
                        continue
                    for m in [first, *consumer.consume(499, 0)]:
                        if m.error():
                            continue
                        self.handle_record(m.value(), m.key())
                        if ends and m.offset() + 1 >= ends.get(m.partition(), 0):
                            ends.pop(m.partition(), None)
                            if not ends:
                                self._catch_up()
            except KafkaException as exc:
                log("error", f"kafka: consumer failed ({exc}); reconnecting")
                self.stopping.wait(2.0)
            finally:
                consumer.close()

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        self.commands.start()
        self.client.connect_async(self.settings.host, self.settings.port, KEEPALIVE_S)
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping.set()
        info = None
        with self.lock:
            if self.connected:
                # A clean exit sends no last will: say offline ourselves, and wait for it.
                info = self.client.publish(self.topics.bridge_availability, OFFLINE, qos=1,
                                           retain=True)
        if info is not None:
            try:
                info.wait_for_publish(2.0)
            except (RuntimeError, ValueError):
                pass  # connection gone meanwhile: the broker sends the will instead
        self.client.disconnect()
        self.client.loop_stop()
        self.commands.stop()
