"""Requests for a CP whose Monitor is connected to another Central, routed to that one.

A driver's charge_request or stop_charging_request, or an operator's stop_cp or
resume_cp, may reach any Central; only the CP's owner (evcentral.leases) holds the
Monitor's connection. The Central that took the request checks who is asking (the
driver's or the operator's proof stays with it; the admin token never travels),
then publishes the request to the topic evcharge.central-relay keyed by the owner's
--central-id; the owner carries it out as if it had come from that driver or
operator, and publishes its reply back, keyed by the asker's id. A request that came
by Kafka (driver-requests) is answered by the owner on driver-events directly.

Records carry an HMAC-SHA256 under a key derived from the cluster's --db-key-file
(every Central of one database holds it): a record that does not verify, is meant
for another Central, or is older than RELAY_TIMEOUT_S (its asker has given up) is
dropped. A request its owner does not answer in RELAY_TIMEOUT_S is refused with
reason owner_unreachable (the owner may have died: the Monitor then moves to
another Central within seconds and the driver can ask again).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from typing import Any

from evcentral.replies import refused
from evwire import dumps, loads
from evwire.trace import log, trace

RELAY_TIMEOUT_S = 5.0
MAX_PENDING = 1000  # requests waiting for an owner's answer; more are refused at once
REQUEST, REPLY = "request", "reply"

Publish = Callable[[str, bytes], asyncio.Future]  # (key = Central id, value) -> delivery
Dispatch = Callable[[dict, Any], Any]  # (msg, channel) -> awaitable: the boundary


def owner_elsewhere(hub: Any, channel: Any, cp_id: str | None) -> str | None:
    """The Central to route a request for cp_id to: another one that holds the CP's
    Monitor; None to carry it out here (one Central, a CP held here or by nobody, or
    a request that was routed here already)."""
    if hub.cluster is None or hub.relay is None or not cp_id or getattr(channel, "relayed",
                                                                         False):
        return None
    return hub.cluster.owner_elsewhere(cp_id)


def seal(key: bytes, record: dict) -> bytes:
    body = dumps(record)
    return dumps({"body": body, "mac": hmac.new(key, body, hashlib.sha256).hexdigest()})


def unseal(key: bytes, value: bytes) -> dict | None:
    """The record, or None if it is not a sealed relay record under this key."""
    try:
        envelope = loads(value)
        body, mac = envelope["body"], envelope["mac"]
        if not isinstance(body, bytes) or not isinstance(mac, str):
            return None
        if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).hexdigest()):
            return None
        record = loads(body)
    except Exception:  # undecodable: not ours
        return None
    return record if isinstance(record, dict) else None


class Asker:
    """Who asks, for a face that has no channel (the web API): a driver by its login."""

    def __init__(self, role: str, driver_id: str | None, origin: str, peer: str):
        self.role: str | None = role
        self.driver_id = driver_id
        self.origin = origin
        self.peer = peer


async def forward_for_web(hub: Any, msg: dict, driver_id: str, peer: str) -> dict | None:
    """A web driver's charge or stop for a CP another Central holds: that Central's
    reply (charge_request_response / stop_charging_response); None to act here."""
    owner = owner_elsewhere(hub, None, msg.get("cp_id"))
    if owner is None:
        return None
    return await hub.relay.forward(msg, Asker("driver", driver_id, "web", peer), owner)


class RelayedChannel:
    """The asker's driver or operator, at the owner: replies go back through the relay
    (or, for a Kafka request, to driver-events)."""

    def __init__(self, relay: Relay, record: dict):
        self.relay = relay
        self.record = record
        self.role: str | None = record["role"]
        self.driver_id = record.get("driver_id")
        self.origin = record.get("origin", "socket")
        self.peer = f"relay:{record['from']}/{record.get('address', '?')}"
        self.relayed = True  # carried out here, never routed on again
        self.admin = record["role"] == "admin"  # the asker checked the token
        self.cp_id: str | None = None
        self.last_message = time.monotonic()

    def send(self, msg: dict) -> bool:
        trace("send", msg)
        if self.origin == "kafka":
            self.relay.publish_driver_event(self.driver_id, dumps(msg))
        else:
            self.relay.reply(self.record, msg)
        return True

    def close(self, reason: str) -> None:
        """Nothing to close: the asker's connection is the asker's."""


class Relay:
    def __init__(self, central_id: str, key: bytes, publish: Publish,
                 publish_driver_event: Callable[[str, bytes], asyncio.Future]):
        self.central_id = central_id
        self.key = key
        self._publish = publish
        self._publish_driver_event = publish_driver_event
        self.dispatch: Dispatch | None = None  # set by app.py: evcentral.boundary.dispatch
        self.pending: dict[str, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        self.forwarded = 0
        self.carried_out = 0
        # True once this Central reads its answers (evcentral.relay_reader); app.py sets it.
        self.reading: Callable[[], bool] = lambda: True

    # -- the asking side -------------------------------------------------------------
    async def forward(self, msg: dict, channel: Any, owner: str) -> dict | None:
        """Hand msg to its CP's owner; its reply (None for a Kafka request: the owner
        answers the driver on driver-events)."""
        origin = getattr(channel, "origin", "socket")
        if len(self.pending) >= MAX_PENDING:
            return refused(msg, "too many requests waiting for other Centrals: try again",
                           reason="busy_relay", **_about(msg))
        corr = uuid.uuid4().hex
        record = {"kind": REQUEST, "corr": corr, "from": self.central_id, "to": owner,
                  "sent": time.time(), "role": channel.role, "origin": origin,
                  "driver_id": getattr(channel, "driver_id", None),
                  "address": str(getattr(channel, "peer", "") or "?"),
                  "msg": {k: v for k, v in msg.items() if k != "token"}}
        self.forwarded += 1
        log("info", f"{msg['type']} id={msg['message_id']} for {msg.get('cp_id')}: routed to "
                    f"Central {owner}, which holds its Monitor")
        if origin == "kafka":
            await self._publish(owner, seal(self.key, record))
            return None
        answer = asyncio.get_running_loop().create_future()
        self.pending[corr] = answer
        try:
            await self._until_reading()
            await self._publish(owner, seal(self.key, record))
            return await asyncio.wait_for(answer, RELAY_TIMEOUT_S)
        except Exception as exc:  # not delivered, or no answer in time
            why = "did not answer" if isinstance(exc, TimeoutError) else f"is unreachable ({exc})"
            log("warning", f"{msg['type']} id={msg['message_id']}: Central {owner} {why}")
            return refused(msg, f"Central {owner}, which holds {msg.get('cp_id')}, {why} within"
                                f" {RELAY_TIMEOUT_S:g} s: try again in a moment",
                           reason="owner_unreachable", **_about(msg))
        finally:
            self.pending.pop(corr, None)

    async def _until_reading(self) -> None:
        """Just after start-up this Central's reader may not be placed yet: its answer
        would be missed. Wait for it (bounded by the caller's RELAY_TIMEOUT_S)."""
        deadline = time.monotonic() + RELAY_TIMEOUT_S
        while not self.reading():
            if time.monotonic() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.05)

    # -- the owning side -----------------------------------------------------------------
    def reply(self, request: dict, msg: dict) -> None:
        record = {"kind": REPLY, "corr": request["corr"], "from": self.central_id,
                  "to": request["from"], "sent": time.time(), "msg": msg}
        future = self._publish(request["from"], seal(self.key, record))
        future.add_done_callback(_log_failure)

    def publish_driver_event(self, driver_id: str | None, value: bytes) -> None:
        if driver_id:
            self._publish_driver_event(driver_id, value).add_done_callback(_log_failure)

    def received(self, value: bytes) -> None:
        """A relay record keyed with this Central's id (loop thread)."""
        record = unseal(self.key, value)
        if record is None or record.get("to") != self.central_id:
            log("warning", "central-relay: a record that does not verify or is not for this "
                           "Central: dropped")
            return
        sent = record.get("sent")
        if not isinstance(sent, (int, float)) or time.time() - sent > RELAY_TIMEOUT_S:
            return  # its asker has given up (and said so)
        if record.get("kind") == REPLY:
            answer = self.pending.get(str(record.get("corr")))
            if answer is not None and not answer.done() and isinstance(record.get("msg"), dict):
                answer.set_result(record["msg"])
        elif record.get("kind") == REQUEST and isinstance(record.get("msg"), dict) \
                and record.get("role") in ("driver", "admin") and self.dispatch is not None:
            self.carried_out += 1
            task = asyncio.ensure_future(self.dispatch(record["msg"], RelayedChannel(self, record)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log("error", f"central-relay: record not delivered ({future.exception()})")


def _about(msg: dict) -> dict:
    """What a refusal of msg must name (a charge_request_response its session_id, none)."""
    fields = {"cp_id": msg.get("cp_id"), "session_id": msg.get("session_id")}
    if msg.get("type") == "manual_command":
        fields = {}
    elif msg.get("driver_id"):
        fields["driver_id"] = msg["driver_id"]
    return fields
