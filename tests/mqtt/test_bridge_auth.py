"""Who may press Stop: the embedded broker lets in only its generated users, the
bridge never uses a broker it did not start, and on a broker where it has no
credentials it publishes state only and never subscribes to the command topics."""
from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from mqtt_testkit import start_bridge, status
from paho.mqtt.enums import CallbackAPIVersion

from evharness.procs import bin_path, free_port, wait_until

PFX = "evcharge/"
STOP_BUTTON = "homeassistant/button/evcharge_CP7/stop/config"


def connack(port: int, user: str | None = None, password: str | None = None) -> str:
    """The broker's answer to a CONNECT with these credentials."""
    answer: list[str] = []
    got = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}")
    if user is not None:
        client.username_pw_set(user, password)

    def on_connect(_c, _u, _f, reason_code, _p=None) -> None:
        answer.append(str(reason_code))
        got.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    try:
        assert got.wait(10), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0]


def press_stop_as(port: int, user: str | None, password: str | None) -> None:
    """What an intruder does: connect and publish STOP without waiting to be let in."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"intruder-{time.monotonic_ns()}")
    if user is not None:
        client.username_pw_set(user, password)
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    client.publish(f"{PFX}CP7/command/stop", "STOP", qos=1)
    time.sleep(1.0)
    client.disconnect()
    client.loop_stop()


def test_embedded_broker_lets_in_only_its_users(embedded, watchers, procs, kafka_bootstrap):
    bridge, state = embedded.bridge, embedded.state_dir
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    for name in ("bridge.password", "homeassistant.password", "passwd", "broker.log"):
        assert stat.S_IMODE(os.stat(state / name).st_mode) == 0o600, name
    log = bridge.log()
    assert str(state / "<user>.password") in log and str(state / "broker.log") in log
    for user in ("bridge", "homeassistant"):
        assert embedded.password(user) not in log  # where the password is, never what

    assert connack(embedded.port) == "Not authorized"  # anonymous
    assert connack(embedded.port, "homeassistant", "wrong") == "Not authorized"
    assert connack(embedded.port, "bridge", embedded.password("homeassistant")) == \
        "Not authorized"
    assert connack(embedded.port, "homeassistant", embedded.password()) == "Success"

    press_stop_as(embedded.port, None, None)
    press_stop_as(embedded.port, "homeassistant", "wrong")
    time.sleep(0.5)  # had the broker let them in, the bridge would have acted by now
    assert "stop_cp" not in bridge.log() and "command/stop" not in bridge.log()

    # The control: homeassistant's press reaches the bridge, which sends it to Central
    # (nowhere here: `not sent`), so the silence above is the broker refusing.
    ha = watchers(embedded.port, "homeassistant", password=embedded.password())
    button = json.loads(ha.wait(STOP_BUTTON, bool))
    ha.publish(button["command_topic"], button["payload_press"])
    wait_until(lambda: "stop_cp CP7 not sent" in bridge.log(), timeout=30, what="stop sent")

    # A restarted bridge uses the broker it started (same state dir), not a new one.
    pid = int(bridge.log().split("(pid ", 1)[1].split(",", 1)[0])
    assert bridge.terminate() == 0, bridge.log()
    again = start_bridge(procs, kafka_bootstrap, *embedded.args, name="mqtt-bridge-2")
    assert f"reusing the embedded MQTT broker on 127.0.0.1:{embedded.port} (pid {pid}," \
        in again.log(), again.log()


def test_embedded_broker_on_a_port_in_use_fails_clearly(tmp_path):
    with socket.socket() as other:  # someone else's listener: it must get nothing of ours
        other.bind(("127.0.0.1", 0))
        other.listen(8)
        port = other.getsockname()[1]
        out = subprocess.run(
            [bin_path("evcharge"), "mqtt-bridge", "--kafka", f"127.0.0.1:{free_port()}",
             "--embedded-broker", f"127.0.0.1:{port}", "--embedded-state-dir",
             str(tmp_path / "state")], capture_output=True, text=True, timeout=60)
        other.settimeout(0.5)
        received = b""
        try:
            while True:
                conn, _ = other.accept()
                with conn:
                    conn.settimeout(0.5)
                    received += conn.recv(4096)
        except OSError:
            pass
    assert out.returncode == 5, out  # cliout.EXIT_CONFIG: the --embedded-broker address
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "already in use by a program this bridge did not start" \
        in lines[0], out.stderr
    assert received == b""  # port probes only: no CONNECT, no credentials, no data


def test_without_credentials_commands_are_off(open_mosquitto, procs, kafka_bootstrap,
                                              kafka_ns, watchers):
    anyone = watchers(open_mosquitto.port)
    # A previous run with credentials announced a Stop button: this run must retract it.
    anyone.client.publish(STOP_BUTTON, '{"name": "Stop"}', qos=1, retain=True) \
        .wait_for_publish(10)
    from evkafka import names
    from evkafka.client import make_producer
    from evkafka.compacted import ensure_compacted_topic

    ensure_compacted_topic(kafka_bootstrap, names.cp_status())
    producer = make_producer(kafka_bootstrap)
    producer.produce(names.cp_status(), key=b"CP7", value=status("CP7", "CHARGING"))
    producer.flush(10)
    bridge = start_bridge(procs, kafka_bootstrap, "--mqtt", open_mosquitto.address,
                          "--central", f"127.0.0.1:{free_port()}")
    assert "commands disabled" in bridge.log(), bridge.log()
    anyone.wait(f"{PFX}CP7/state", lambda v: v == "CHARGING")
    anyone.wait("homeassistant/sensor/evcharge_CP7/power/config", bool)
    anyone.wait(STOP_BUTTON, lambda v: v == "")  # retained config deleted: no button

    anyone.publish(f"{PFX}CP7/command/stop", "STOP")
    anyone.publish(f"{PFX}CP7/command/resume", "RESUME")
    time.sleep(1.5)  # the bridge, were it subscribed, would have logged or sent by now
    log = bridge.log()
    assert "stop_cp" not in log and "resume_cp" not in log and "command/" not in log, log
