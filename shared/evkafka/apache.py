"""Stop and start the Apache Kafka broker of tools/apache-kafka.sh, from tests.

The script keeps its run folder (config, data, pid) in
EVCHARGE_APACHE_KAFKA_DIR, default ${EVCHARGE_CACHE:-~/.cache/evcharge}/apache-kafka-run,
and writes broker.env there (BOOTSTRAP=..., PID=..., ...) once the broker
accepts clients. `controls(bootstrap)` tells whether a bootstrap address is that
broker; `stop()` / `kill()` take it down keeping its log, `start()` brings it
back on the same port with the same data: what "the broker dies mid-session"
tests need. Tansu (memory only) cannot do this: those tests skip there.

Several pytest-xdist workers share the one external broker, so a restart must
not pull it from under another worker's test: every test that uses Kafka holds
a shared lease (`lease`, taken by the `kafka_ns` fixture), and `stop()` waits
for an exclusive one, which `start()` hands back once the broker is up again.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import KafkaException

from evkafka.client import admin

ENV_RUN_DIR = "EVCHARGE_APACHE_KAFKA_DIR"
ENV_CACHE = "EVCHARGE_CACHE"
SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "apache-kafka.sh"
LEASE_WAIT = 180.0  # the longest another worker's test may hold the broker


class BrokerControlError(RuntimeError):
    """The script could not stop or start the broker."""


def run_dir() -> Path:
    explicit = os.environ.get(ENV_RUN_DIR)
    if explicit:
        return Path(explicit)
    cache = os.environ.get(ENV_CACHE) or str(Path.home() / ".cache" / "evcharge")
    return Path(cache) / "apache-kafka-run"


def state() -> dict[str, str]:
    """The script's broker.env (empty when it never started a broker here)."""
    try:
        text = (run_dir() / "broker.env").read_text()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def controls(bootstrap: str | None) -> bool:
    """True when `bootstrap` is the broker the script started (so it can restart it)."""
    return bool(bootstrap) and state().get("BOOTSTRAP") == bootstrap


def version() -> str | None:
    return state().get("VERSION")


def _script(command: str, timeout: float) -> str:
    env = dict(os.environ)
    env[ENV_RUN_DIR] = str(run_dir())
    try:
        done = subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True,
                              timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise BrokerControlError(f"apache-kafka.sh {command} took over {timeout}s") from exc
    if done.returncode != 0:
        raise BrokerControlError(
            f"apache-kafka.sh {command} failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    return done.stdout.strip()


class _Lease:
    """A shared/exclusive flock on the run folder's lease file, with a turnstile.

    Holders of the shared lease pass the turnstile first; the one wanting the
    exclusive lease holds the turnstile while it waits, so a stream of new
    tests on other workers cannot starve a restart.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.depth = 0

    def _open(self, name: str) -> int:
        folder = run_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o644)

    @staticmethod
    def _flock(fd: int, mode: int, what: str) -> None:
        deadline = time.monotonic() + LEASE_WAIT
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BrokerControlError(
                        f"{what}: the broker lease was held for over {LEASE_WAIT}s") from None
                time.sleep(0.05)

    def _through_turnstile(self, mode: int, what: str) -> None:
        turnstile = self._open("lease.turnstile")
        try:
            self._flock(turnstile, fcntl.LOCK_EX, what)
            if self.fd is None:
                self.fd = self._open("lease")
            # Converting shared -> exclusive drops the shared lock first (flock(2)),
            # so two workers restarting at once cannot deadlock.
            self._flock(self.fd, mode, what)
        finally:
            os.close(turnstile)

    def acquire_shared(self) -> None:
        self.depth += 1
        if self.depth == 1:
            self._through_turnstile(fcntl.LOCK_SH, "waiting to use the broker")

    def release_shared(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops its lock
            self.fd = None

    def make_exclusive(self) -> None:
        self._through_turnstile(fcntl.LOCK_EX, "waiting to restart the broker")

    def make_shared_again(self) -> None:
        if self.fd is None:
            return
        if self.depth:
            fcntl.flock(self.fd, fcntl.LOCK_SH)
        else:
            os.close(self.fd)
            self.fd = None


_lease = _Lease()


@contextmanager
def lease(bootstrap: str | None) -> Iterator[None]:
    """Hold a shared lease on the script's broker while using it (no-op for others)."""
    if not controls(bootstrap):
        yield
        return
    _lease.acquire_shared()
    try:
        yield
    finally:
        _lease.release_shared()


_retired_namespaces: list[str] = []


def retire_namespace(namespace: str) -> None:
    """Mark a finished test's namespace: `sweep` deletes its topics later."""
    _retired_namespaces.append(namespace)


def sweep(bootstrap: str, timeout: float = 10.0) -> None:
    """Delete the topics of retired namespaces, so the one shared broker stays small.

    Called when the next test starts (not when one ends: the ended test's own
    processes may still be stopping then). Topics of a whole test run would
    otherwise pile up to thousands of partitions, slowing every broker restart.
    """
    prefixes = tuple(_retired_namespaces)
    _retired_namespaces.clear()
    if not prefixes:
        return
    client = admin(bootstrap)
    try:
        doomed = [t for t in client.list_topics(timeout=timeout).topics if t.startswith(prefixes)]
        if doomed:
            for future in client.delete_topics(doomed, operation_timeout=timeout).values():
                future.result(timeout)
    except KafkaException:
        pass  # only housekeeping: a topic left behind is harmless


def stop(timeout: float = 60.0) -> None:
    """Stop the broker cleanly (SIGTERM), keeping its data; waits for the exclusive lease."""
    _lease.make_exclusive()
    _script("stop", timeout)


def kill(timeout: float = 30.0) -> None:
    """Kill the broker at once (SIGKILL, a crash), keeping its data."""
    _lease.make_exclusive()
    _script("kill", timeout)


def start(timeout: float = 150.0) -> str:
    """Start the stopped broker again (same port, same data); return its bootstrap address.

    Other workers' tests may use the broker again only once it is back; if it
    does not come back, call `release()` (the `restartable_broker` fixture does).
    """
    line = _script("resume", timeout)
    release()
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    return fields.get("bootstrap", "")


def release() -> None:
    """Hand back the exclusive lease taken by stop()/kill() (no-op when not held)."""
    _lease.make_shared_again()


def running() -> bool:
    try:
        _script("status", 10.0)
    except BrokerControlError:
        return False
    return True
