"""A minimal Monitor stand-in that talks to an Engine over TCP (CPython only).

Used by the hardware-in-the-loop tests and tools/bench_engine.py, and on a
bench: `python -m evengine.probe HOST:PORT` sends a health check every second
and prints every message the Engine sends as one JSON line. Not part of the
board bundle.
"""
from __future__ import annotations

import json
import os
import select
import socket
import sys
import time
import tty
from collections.abc import Callable

import evwire
from evwire import types as t

Message = dict


class ProbeTimeout(AssertionError):
    """The Engine did not send what was awaited in time."""


class MonitorProbe:
    def __init__(self, host: str, port: int, connect_timeout: float = 10.0,
                 heartbeat: float | None = 1.0, cp_id: str = "CP1",
                 link_key: str | None = None):
        """heartbeat: send a health check this often while waiting, as a real
        Monitor does (None: stay silent, to play a Monitor that hung).
        link_key: run the link handshake first (evwire.link_auth)."""
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.decoder = evwire.FrameDecoder()
        self.inbox: list[Message] = []
        self.seen: list[Message] = []  # everything received, in order
        self.closed_by_peer = False
        self.heartbeat = heartbeat
        self.cp_id = cp_id
        self.last_beat = time.monotonic()
        if link_key is not None:
            reply = self.authenticate(link_key)
            if reply.get("status") != t.SUCCESS:
                raise ProbeTimeout(f"link handshake refused: {reply}")

    def authenticate(self, key: str, timeout: float = 5.0) -> Message:
        """The Monitor's side of the handshake; returns the Engine's last answer
        (link_auth_response, or the error_response that refused it)."""
        from evwire import link_auth

        beat, self.heartbeat = self.heartbeat, None  # nothing else before it passes
        try:
            nonce = link_auth.new_nonce()
            hello = self.send(evwire.make(t.LINK_HELLO, cp_id=self.cp_id, nonce=nonce))
            challenge = self.reply_to(hello, timeout)
            if challenge.get("type") != t.LINK_CHALLENGE:
                return challenge
            expected = link_auth.engine_mac(key, self.cp_id, nonce, challenge["nonce"])
            if not link_auth.mac_ok(challenge["mac"], expected):
                raise ProbeTimeout("the Engine does not hold the link key")
            auth = self.send(evwire.make(t.LINK_AUTH, mac=link_auth.monitor_mac(
                key, self.cp_id, challenge["nonce"], nonce)))
            return self.reply_to(auth, timeout)
        finally:
            self.heartbeat = beat
            self.last_beat = time.monotonic()

    # -- sending -----------------------------------------------------------
    def send(self, msg: Message) -> Message:
        self.sock.sendall(evwire.encode_frame(msg))
        if msg.get("type") == t.HEALTH_CHECK_REQUEST:
            self.last_beat = time.monotonic()
        return msg

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def health(self, cp_id: str = "CP1", timeout: float = 5.0) -> Message:
        msg = self.send(evwire.make(t.HEALTH_CHECK_REQUEST, id=cp_id))
        return self.reply_to(msg, timeout)

    def start(self, session_id: str, cp_id: str = "CP1", driver_id: str = "D1",
              price_per_kwh: float = 0.30, timeout: float = 5.0) -> Message:
        msg = self.send(evwire.make(
            t.START_CHARGING_COMMAND, cp_id=cp_id, session_id=session_id, driver_id=driver_id,
            price_per_kwh=price_per_kwh, max_charging_rate_kw=11.0))
        return self.reply_to(msg, timeout)

    def stop(self, session_id: str, cp_id: str = "CP1", timeout: float = 5.0) -> Message:
        msg = self.send(evwire.make(t.STOP_CHARGING_COMMAND, cp_id=cp_id, session_id=session_id))
        return self.reply_to(msg, timeout)

    def ack(self, completion: Message) -> None:
        self.send({"type": t.CHARGE_COMPLETION_ACK, "message_id": completion["message_id"],
                   "session_id": completion["session_id"], "cp_id": completion["cp_id"]})

    # -- receiving ---------------------------------------------------------
    def pump(self, wait: float) -> None:
        """Read whatever arrives within `wait` seconds into the inbox."""
        if self.heartbeat is not None and time.monotonic() - self.last_beat >= self.heartbeat:
            self.last_beat = time.monotonic()
            try:
                self.send(evwire.make(t.HEALTH_CHECK_REQUEST, id=self.cp_id))
            except OSError:
                self.closed_by_peer = True
                return
        self.sock.settimeout(max(wait, 0.001))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        except OSError:
            data = b""
        if not data:
            self.closed_by_peer = True
            time.sleep(wait)
            return
        for msg in self.decoder.feed(data):
            self.inbox.append(msg)
            self.seen.append(msg)

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 5.0,
                 what: str = "message") -> Message:
        """Take the first inbox message matching predicate, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for index, msg in enumerate(self.inbox):
                if predicate(msg):
                    return self.inbox.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed_by_peer:
                types = [m.get("type") for m in self.seen[-10:]]
                raise ProbeTimeout(f"no {what} within {timeout}s (last seen: {types})")
            self.pump(min(remaining, 0.2))

    def wait_type(self, msg_type: str, timeout: float = 5.0) -> Message:
        return self.wait_for(lambda m: m.get("type") == msg_type, timeout, msg_type)

    def reply_to(self, request: Message, timeout: float = 5.0) -> Message:
        mid = request["message_id"]
        return self.wait_for(lambda m: m.get("message_id") == mid and m.get("type") != request[
            "type"], timeout, f"reply to {request['type']}")

    def collect(self, seconds: float) -> list[Message]:
        """Everything that arrives during `seconds` (also drained from the inbox)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump(min(0.1, deadline - time.monotonic()))
        got, self.inbox = self.inbox, []
        return got

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class PtyMonitor:
    """For serial link tests: the Monitor's end, the master side of a real pty."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # kept open, as a USB adapter's line would stay
        self.device = os.ttyname(self.slave)
        self.decoder = evwire.FrameDecoder()
        self.inbox: list[dict] = []

    def send(self, msg: dict) -> dict:
        os.write(self.master, evwire.encode_frame(msg))
        return msg

    def wait_for(self, predicate, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, msg in enumerate(self.inbox):
                if predicate(msg):
                    return self.inbox.pop(index)
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                self.inbox += self.decoder.feed(os.read(self.master, 4096))
        raise AssertionError(f"nothing matching within {timeout}s; got {self.inbox[-5:]}")

    def request(self, msg: dict) -> dict:
        self.send(msg)
        return self.wait_for(lambda m: m.get("message_id") == msg["message_id"])

    def close(self):
        os.close(self.master)
        os.close(self.slave)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or ":" not in argv[0]:
        print("usage: python -m evengine.probe HOST:PORT", file=sys.stderr)
        return 2
    host, _, port = argv[0].rpartition(":")
    probe = MonitorProbe(host, int(port))
    try:
        while not probe.closed_by_peer:
            for msg in probe.collect(1.0):  # the heartbeat sends the health checks
                print(json.dumps(msg, sort_keys=True), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        probe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
