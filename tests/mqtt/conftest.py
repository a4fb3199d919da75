"""Fixtures for the MQTT bridge tests: a real Mosquitto (password file + ACL) on a
free port, started by the test; paho subscribers as Home Assistant uses them;
a whole network of real processes (as the e2e tests)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).parent))

from mqtt_testkit import USERS, start_bridge  # noqa: E402,F401

from evcharge.harness.network import Network  # noqa: E402
from evcharge.harness.procs import Proc, ProcessGroup, free_port, wait_port  # noqa: E402
from evcharge.harness.spec import CpSpec, NetworkSpec  # noqa: E402

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
    def __init__(self, procs: ProcessGroup, workdir: Path, binary: str):
        self.procs, self.workdir, self.binary = procs, workdir, binary
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        pwfile = workdir / "passwd"
        pwfile.touch(mode=0o600)
        passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for user, password in USERS.items():
            subprocess.run([passwd, "-b", str(pwfile), user, password], check=True,
                           capture_output=True)
        (workdir / "acl").write_text(ACL)
        os.chmod(workdir / "acl", 0o600)
        self.conf = workdir / "mosquitto.conf"
        # Memory only (no persistence): a restart loses every retained message, so
        # what a subscriber sees afterwards is what the bridge republished.
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
                             f"password_file {pwfile}\nacl_file {workdir / 'acl'}\n"
                             "persistence false\nlog_dest stderr\nlog_type all\n"
                             # As root it would switch to user `mosquitto`, who cannot
                             # read our 0600 files: stay who we are.
                             + ("user root\n" if os.geteuid() == 0 else ""))
        self.proc: Proc | None = None

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


@pytest.fixture
def mosquitto(procs, tmp_path):
    binary = find_mosquitto()
    if binary is None:
        reason = "mosquitto not installed (Debian: apt-get install -y mosquitto)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must install it (.ci/run)")
        pytest.skip(reason)
    return Mosquitto(procs, tmp_path / "mosq", binary).start()


class Watcher:
    """A paho subscriber as Home Assistant is: the latest value of every topic."""

    def __init__(self, port: int, user: str | None = None, topics=("#",)):
        self.values: dict[str, str] = {}
        self.history: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{user}-"
                                  f"{os.getpid()}-{time.monotonic_ns()}")
        if user:
            self.client.username_pw_set(user, USERS[user])
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

    def make(port: int, user: str | None = None, topics=("#",)) -> Watcher:
        w = Watcher(port, user, topics)
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
