"""The embedded MQTT broker (amqtt) for a bridge given no --mqtt.

Like the local Kafka broker (evkafka.local), it runs as its own detached
process (`python -m evmqtt.embedded --listen HOST:PORT --state-dir DIR`, new
session), so it outlives the bridge: when the bridge dies, the broker is what
publishes the bridge's last will to subscribers. Loopback only, memory only
(the bridge republishes every retained value when it (re)connects), and no
anonymous clients: the users `bridge` and `homeassistant` get random passwords,
kept in a private state directory (0700) as 0600 files, with their argon2
hashes in the password file amqtt checks.

A bridge reuses a broker on its address only if it is the one started from the
same state directory (pid file, /proc cmdline, same owner): never a listener it
did not start, which would receive its data and could forge commands.
"""
from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import secrets
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from evhost.ports import port_open, wait_port
from evhost.secretfile import SecretFileError, read_secret_file, write_secret_file
from evkafka.broker import parse_hostport

DEFAULT_EMBEDDED = "127.0.0.1:1883"
BRIDGE_USER = "bridge"
HA_USER = "homeassistant"  # for Home Assistant, mosquitto_sub, Node-RED: docs/MQTT.md
USERS = (BRIDGE_USER, HA_USER)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class EmbeddedBrokerError(RuntimeError):
    """The one line saying why the embedded broker cannot be used."""


@dataclass(frozen=True)
class EmbeddedBroker:
    address: str
    started: bool  # True: this call started it; False: reused the one this state dir started
    pid: int
    state_dir: Path
    username: str
    password: str

    @property
    def log_path(self) -> Path:
        return self.state_dir / "broker.log"


def default_state_dir(address: str = DEFAULT_EMBEDDED) -> Path:
    host, port = parse_hostport(address)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "evcharge" / f"mqtt-broker-{host.replace(':', '_')}-{port}"


def password_path(state_dir: Path, user: str) -> Path:
    return state_dir / f"{user}.password"


def private_dir(path: Path) -> Path:
    """path as a directory only its owner (us) may enter: created 0700, or checked."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise EmbeddedBrokerError(f"cannot use state directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise EmbeddedBrokerError(f"state directory {path} is not a directory owned by us")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)  # ours: close it before any secret goes in
    return path


def credentials(state_dir: Path) -> dict[str, str]:
    """user -> password; generated once, kept, so HA's configured password stays valid."""
    out = {}
    for user in USERS:
        path = password_path(state_dir, user)
        if not path.exists():
            write_secret_file(path, secrets.token_urlsafe(24))
        try:
            out[user] = read_secret_file(path)
        except SecretFileError as exc:
            raise EmbeddedBrokerError(str(exc)) from None
    return out


def write_password_file(state_dir: Path, creds: dict[str, str]) -> Path:
    """amqtt's FileAuthPlugin format: `user:argon2 hash` lines."""
    from pwdlib.hashers.argon2 import Argon2Hasher  # amqtt's own dependency

    hasher = Argon2Hasher()
    lines = "\n".join(f"{user}:{hasher.hash(pw)}" for user, pw in creds.items())
    return write_secret_file(state_dir / "passwd", lines)


def broker_config(listen: str, password_file: Path) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": listen}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False},
            "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(password_file)},
        },
    }


def broker_argv(address: str, state_dir: Path) -> list[str]:
    return [sys.executable, "-m", "evmqtt.embedded", "--listen", address,
            "--state-dir", str(state_dir)]


def running_broker(state_dir: Path, address: str) -> int | None:
    """The pid of the live broker this state dir started on address, else None.

    Checked against /proc (its exact argv, our uid): a stale pid file or a pid
    reused by another program is not our broker. Without /proc: never reused."""
    try:
        pid = int((state_dir / "broker.pid").read_text().strip())
        proc = Path(f"/proc/{pid}")
        argv = (proc / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        uid = proc.stat().st_uid
    except (OSError, ValueError):
        return None
    want = [a.encode() for a in broker_argv(address, state_dir)[1:]]
    return pid if uid == os.geteuid() and argv[1:] == want else None


def ensure_embedded_broker(address: str = DEFAULT_EMBEDDED, state_dir: Path | None = None,
                           timeout: float = 20.0) -> EmbeddedBroker:
    """The embedded broker at address with the bridge's credentials: the one this state
    dir started, or a new one. EmbeddedBrokerError if a program we did not start holds
    the port, or the broker does not come up."""
    host, port = parse_hostport(address)
    if host not in LOOPBACK:
        raise EmbeddedBrokerError(f"--embedded-broker {address}: loopback only")
    state_dir = private_dir(Path(state_dir or default_state_dir(address)).absolute())
    # One bridge at a time here: two starting together share one broker and one password.
    with open(state_dir / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        creds = credentials(state_dir)
        pid = running_broker(state_dir, address)
        if port_open(host, port):
            if pid is None:
                raise EmbeddedBrokerError(
                    f"{address} is already in use by a program this bridge did not start; "
                    f"stop it, pick another --embedded-broker port, or use --mqtt")
            return EmbeddedBroker(address, False, pid, state_dir, BRIDGE_USER,
                                  creds[BRIDGE_USER])
        write_password_file(state_dir, creds)
        log_fd = os.open(state_dir / "broker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                         0o600)
        with os.fdopen(log_fd, "ab") as log_file:
            proc = subprocess.Popen(
                broker_argv(address, state_dir), stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                env=dict(os.environ))
        write_secret_file(state_dir / "broker.pid", str(proc.pid))
        try:
            wait_port(host, port, timeout=timeout, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            proc.kill()
            raise EmbeddedBrokerError(f"the embedded broker did not start on {address} ({exc});"
                                      f" see {state_dir / 'broker.log'}") from None
        return EmbeddedBroker(address, True, proc.pid, state_dir, BRIDGE_USER,
                              creds[BRIDGE_USER])


async def serve(listen: str, password_file: Path) -> None:
    from amqtt.broker import Broker

    broker = Broker(broker_config(listen, password_file))
    await broker.start()
    print(f"<6>evcharge-mqtt-broker: ready listening on {listen} (amqtt, memory only, "
          f"users from {password_file})", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evmqtt.embedded", description=__doc__)
    parser.add_argument("--listen", default=DEFAULT_EMBEDDED)
    parser.add_argument("--state-dir", required=True, type=Path,
                        help="private directory (0700) holding the password file `passwd`")
    args = parser.parse_args(argv)
    host, _port = parse_hostport(args.listen)
    if host not in LOOPBACK:
        parser.error("the embedded broker is for this machine: loopback only")
    password_file = args.state_dir / "passwd"
    if not password_file.is_file():
        parser.error(f"{password_file}: no such file (the bridge writes it)")
    logging.basicConfig(level=logging.WARNING)  # amqtt logs per packet at INFO
    try:
        asyncio.run(serve(args.listen, password_file))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
