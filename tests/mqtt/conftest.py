"""Fixtures for the MQTT bridge tests: a real Mosquitto (password file + ACL) on a
free port, started by the test; paho subscribers as Home Assistant uses them;
a whole network of real processes (as the e2e tests)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).parent))

from mqtt_testkit import USERS, Embedded, start_bridge, status  # noqa: E402,F401

from evharness.network import Network  # noqa: E402
from evharness.procs import Proc, ProcessGroup, free_port, wait_port  # noqa: E402
from evharness.spec import CpSpec, NetworkSpec  # noqa: E402
from evkafka import names  # noqa: E402
from evkafka.client import make_producer  # noqa: E402
from evkafka.compacted import ensure_compacted_topic  # noqa: E402

# The bridge writes state and reads commands; HA reads state and presses buttons;
# a viewer may only read: its command presses must never reach the bridge.
ACL = """user bridge
topic readwrite #

user ha
topic read evcharge/#
topic read homeassistant/#
topic write evcharge/+/command/+

user viewer
topic read evcharge/#
topic read homeassistant/#
"""


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
        None)


class Mosquitto:
    def __init__(self, procs: ProcessGroup, workdir: Path, binary: str,
                 anonymous: bool = False):
        self.procs, self.workdir, self.binary = procs, workdir, binary
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.proc: Proc | None = None
        if anonymous:  # a broker as many installs run it: anyone may publish anything
            self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                                 "persistence false\nlog_dest stderr\n"
                                 + ("user root\n" if os.geteuid() == 0 else ""))
            return
        pwfile = workdir / "passwd"
        pwfile.touch(mode=0o600)
        passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for user, password in USERS.items():
            subprocess.run([passwd, "-b", str(pwfile), user, password], check=True,
                           capture_output=True)
        (workdir / "acl").write_text(ACL)
        os.chmod(workdir / "acl", 0o600)
        # Memory only (no persistence): a restart loses every retained message, so
        # what a subscriber sees afterwards is what the bridge republished.
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
                             f"password_file {pwfile}\nacl_file {workdir / 'acl'}\n"
                             "persistence false\nlog_dest stderr\nlog_type all\n"
                             # As root it would switch to user `mosquitto`, who cannot
                             # read our 0600 files: stay who we are.
                             + ("user root\n" if os.geteuid() == 0 else ""))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        self.proc = self.procs.start("mosquitto", [self.binary, "-c", str(self.conf)])
        wait_port("127.0.0.1", self.port, timeout=10, proc=self.proc.popen)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()


def mosquitto_binary() -> str:
    binary = find_mosquitto()
    if binary is None:
        reason = "mosquitto not installed (Debian: apt-get install -y mosquitto)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must install it (.ci/run)")
        pytest.skip(reason)
    return binary


@pytest.fixture
def mosquitto(procs, tmp_path):
    return Mosquitto(procs, tmp_path / "mosq", mosquitto_binary()).start()


@pytest.fixture
def open_mosquitto(procs, tmp_path):
    """A Mosquitto that lets anonymous clients in: the bridge has no credentials there."""
    return Mosquitto(procs, tmp_path / "mosq-open", mosquitto_binary(), anonymous=True).start()


@pytest.fixture
def embedded(procs, kafka_bootstrap, kafka_ns, tmp_path):
    """A bridge that started its own embedded broker on a free loopback port, its state
    in tmp_path, Central nowhere (a command shows as `stop_cp CP7 not sent`), CP7 in
    cp-status; the broker (detached by design: it outlives the bridge) is killed after."""
    address = f"127.0.0.1:{free_port()}"
    state_dir = tmp_path / "mqtt-state"
    ensure_compacted_topic(kafka_bootstrap, names.cp_status())
    producer = make_producer(kafka_bootstrap)

    def produce(key: str, value: bytes) -> None:
        producer.produce(names.cp_status(), key=key.encode(), value=value)
        producer.flush(10)

    produce("CP7", status("CP7", "AVAILABLE"))  # before the bridge: found by the replay
    args = ("--embedded-broker", address, "--embedded-state-dir", str(state_dir),
            "--central", f"127.0.0.1:{free_port()}")
    bridge = start_bridge(procs, kafka_bootstrap, *args)
    found = re.search(r"embedded MQTT broker on \S+ \(pid (\d+)", bridge.log())
    assert found, bridge.log()
    yield Embedded(bridge, int(address.rsplit(":", 1)[1]), produce, state_dir, args)
    try:
        os.kill(int(found.group(1)), signal.SIGKILL)
    except ProcessLookupError:
        pass


class Watcher:
    """A paho subscriber as Home Assistant is: the latest value of every topic."""

    def __init__(self, port: int, user: str | None = None, topics=("#",),
                 password: str | None = None):
        self.values: dict[str, str] = {}
        self.history: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{user}-"
                                  f"{os.getpid()}-{time.monotonic_ns()}")
        if user:
            self.client.username_pw_set(user, USERS[user] if password is None else password)
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, *_a: [c.subscribe(t, qos=1) for t in topics]
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscriber not subscribed"

    def _message(self, _client, _userdata, msg) -> None:
        payload = msg.payload.decode("utf-8", "replace")
        with self.lock:
            self.values[msg.topic] = payload
            self.history.append((msg.topic, payload))

    def get(self, topic: str) -> str | None:
        with self.lock:
            return self.values.get(topic)

    def seen(self, topic: str) -> list[str]:
        with self.lock:
            return [v for t, v in self.history if t == topic]

    def wait(self, topic: str, pred, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.get(topic)
            if value is not None and pred(value):
                return value
            time.sleep(0.05)
        raise AssertionError(f"{topic}: {self.get(topic)!r} after {timeout} s "
                             f"(history {self.seen(topic)[-10:]})")

    def config(self, topic: str, timeout: float = 30.0) -> dict:
        return json.loads(self.wait(topic, lambda v: bool(v), timeout))

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def watchers():
    made: list[Watcher] = []

    def make(port: int, user: str | None = None, topics=("#",),
             password: str | None = None) -> Watcher:
        w = Watcher(port, user, topics, password)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def make_network(procs, tmp_path, kafka_bootstrap, kafka_ns):
    networks: list[Network] = []

    def make(cps=("CP1",), drivers=("D1",)) -> Network:
        spec = NetworkSpec(tmp_path / "n", cps=[CpSpec(c) for c in cps], drivers=list(drivers),
                           kafka=kafka_bootstrap)
        net = Network(spec, group=procs)
        networks.append(net)
        return net.start()

    yield make
    for net in networks:
        net.close()
