"""Separate network hosts on one machine: Linux network namespaces on a bridge.

NetnsLab("hub", "cp", "driver") makes one namespace per host, each with its
own `eth0` and 10.x address, all plugged into a bridge that lives in a
further namespace (the "LAN"), so nothing is added to the machine's own
network. Deleting the namespaces removes every interface with them.
Needs root and iproute2; `unavailable_reason()` says why not otherwise.
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import socket
import subprocess
import threading
import uuid

NAME_PREFIX = "evlab"
CLONE_NEWNET = 0x40000000
_NAME_RE = re.compile(rf"^{NAME_PREFIX}(\d+)x[0-9a-f]+-")


class NetnsError(RuntimeError):
    """An `ip` command failed while building or using the lab."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")


def _namespaces() -> list[str]:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def unavailable_reason() -> str | None:
    """None when namespaces can be made here, else a sentence saying why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (run the tests as root to include this case)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` command is not installed"
    probe = f"{NAME_PREFIX}{os.getpid()}x{uuid.uuid4().hex[:6]}-probe"
    try:
        _ip("netns", "add", probe)
    except NetnsError as exc:
        return f"cannot create a network namespace: {exc}"
    _ip("netns", "del", probe)
    return None


def remove_orphans() -> None:
    """Delete labs left behind by processes that died before cleaning up."""
    for name in _namespaces():
        match = _NAME_RE.match(name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


class NetnsLab:
    """Hosts on one /24, e.g. hub 10.77.0.1, cp 10.77.0.2, driver 10.77.0.3."""

    def __init__(self, *hosts: str, subnet: str = "10.77.0"):
        self.hosts = list(hosts)
        self.subnet = subnet
        # The creator's pid in the name lets remove_orphans() find stale labs.
        self.tag = f"{NAME_PREFIX}{os.getpid()}x{uuid.uuid4().hex[:6]}"
        self.lan = f"{self.tag}-lan"
        self.created: list[str] = []

    def namespace(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def address(self, host: str) -> str:
        return f"{self.subnet}.{self.hosts.index(host) + 1}"

    def prefix(self, host: str) -> list[str]:
        """argv prefix that runs a command on `host`."""
        return ["ip", "netns", "exec", self.namespace(host)]

    def create(self) -> NetnsLab:
        remove_orphans()
        try:
            self._add_namespace(self.lan)
            _ip("-n", self.lan, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.lan, "link", "set", "br0", "up")
            for index, host in enumerate(self.hosts):
                self._add_host(index, host)
        except NetnsError:
            self.remove()
            raise
        return self

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self.created.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _add_host(self, index: int, host: str) -> None:
        ns = self.namespace(host)
        self._add_namespace(ns)
        port = f"port{index}"
        _ip("-n", self.lan, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", ns)
        _ip("-n", self.lan, "link", "set", port, "master", "br0")
        _ip("-n", self.lan, "link", "set", port, "up")
        _ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")

    def set_link(self, host: str, up: bool) -> None:
        """Plug or pull a host's network cable (its eth0 goes down: no TCP reset is sent)."""
        _ip("-n", self.namespace(host), "link", "set", "eth0", "up" if up else "down")

    def remove(self) -> None:
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.created.clear()

    def exists(self) -> bool:
        present = set(_namespaces())
        return any(self.namespace(h) in present for h in self.hosts) or self.lan in present

    def connect(self, host: str, address: tuple[str, int], timeout: float = 5.0) -> socket.socket:
        """A TCP connection made from inside `host` (the socket keeps that namespace)."""
        return connect_in_namespace(self.namespace(host), address, timeout)

    def __enter__(self) -> NetnsLab:
        return self.create()

    def __exit__(self, *exc_info) -> None:
        self.remove()


def connect_in_namespace(ns: str, address: tuple[str, int], timeout: float) -> socket.socket:
    """Open a socket from a helper thread that joined `ns`.

    A network namespace is per thread and a socket stays in the namespace it
    was created in, so the test process can talk to a host it is not on
    without any address leaking into the machine's own network.
    """
    result: dict[str, object] = {}

    def worker() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        except OSError as exc:
            result["error"] = exc
            return
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                result["error"] = OSError(err, f"setns({ns}): {os.strerror(err)}")
                return
            result["socket"] = socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            result["error"] = exc
        finally:
            os.close(fd)

    thread = threading.Thread(target=worker, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["socket"]  # type: ignore[return-value]
