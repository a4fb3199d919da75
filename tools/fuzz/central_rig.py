"""Central's parts wired as app.Central wires them, minus Kafka and the TCP socket:
a real Database in the target's work directory, real handlers behind the real
Router, a Channel that captures replies, and a bridge that captures publishes."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fuzzlib import Finding

from evcentral.admin_handlers import AdminHandlers
from evcentral.audit import AuditTrail
from evcentral.auth import Authenticator
from evcentral.boundary import Router
from evcentral.charging import ChargeDesk
from evcentral.config import Config, Hub
from evcentral.cp_handlers import CpHandlers
from evcentral.db import Database
from evcentral.driver_handlers import DriverHandlers
from evcentral.registry import Registry
from evcentral.session_store import SessionStore
from evcentral.sessions import Sessions
from evcentral.throttle import FailureThrottle
from evkafka import names
from evwire import dumps, loads, validate
from evwire import types as t
from evwire.auth import make_auth_request, make_driver_auth_request
from evwire.errors import WireError

SECRETS = {"CP1": "cp1-secret-for-fuzzing", "CP2": "cp2-secret-for-fuzzing"}
DRIVER_SECRET = "d1-secret-for-fuzzing"
ADMIN_TOKEN = "admin-token-for-fuzzing"


class FakeChannel:
    """A TCP connection as the registry and the handlers see it; replies are kept."""

    origin = "socket"

    def __init__(self) -> None:
        self.role: str | None = None
        self.cp_id: str | None = None
        self.last_message = 0.0
        self.peer = "127.0.0.1:9"
        self.sent: list[dict] = []
        self.closed = False

    def describe(self) -> str:
        return f"fuzz channel {self.cp_id or self.role}"

    def send(self, msg: dict) -> bool:
        self.sent.append(msg)
        return not self.closed

    def close(self, reason: str) -> None:
        self.closed = True


class FakeBridge:
    """KafkaBridge.publish without Kafka: each record kept, delivered at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.published: list[tuple[str, str, bytes]] = []

    def publish(self, topic: str, key: str, value: bytes) -> asyncio.Future:
        if not isinstance(key, str) or not isinstance(value, bytes):
            raise Finding(f"publish to {topic} with key {key!r} and a {type(value).__name__}")
        self.published.append((topic, key, value))
        if len(self.published) > 10_000:
            del self.published[:5_000]
        future = self.loop.create_future()
        future.set_result(None)
        return future


class CentralRig:
    def __init__(self, workdir: Path):
        workdir.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.config = Config(host="127.0.0.1", port=0, db_path=str(workdir / "central.db"),
                             admin_token=ADMIN_TOKEN, kafka_request_ttl=1e12,
                             heartbeat_timeout=1e9)
        self.db = Database(self.config.db_path)
        # No fsync per transaction: durability is not under test, throughput is.
        self.db.conn.execute("PRAGMA synchronous=OFF")
        for cp_id, secret in SECRETS.items():
            self.db.add_cp(cp_id, secret, "fuzz lab", 22.0)
        self.db.add_driver("D1", "fuzz driver")
        self.db.set_driver_secret("D1", DRIVER_SECRET)
        self.bridge = FakeBridge(self.loop)
        self.registry = Registry(self.db, self.config.heartbeat_timeout,
                                 self.config.price_per_kwh)
        events = names.driver_events()
        self.sessions = Sessions(SessionStore(self.db), self.registry,
                                 lambda driver_id, value: self.bridge.publish(events, driver_id,
                                                                              value))
        # No waiting after failed attempts: the fuzzer fails thousands of them a second.
        throttle = FailureThrottle(base_delay_s=0.0, max_delay_s=0.0)
        self.hub = Hub(self.config, self.db, self.registry, self.sessions,
                       Authenticator(self.db, self.config.auth_skew), AuditTrail(self.db),
                       throttle)
        desk = ChargeDesk(self.hub)
        self.router = Router(CpHandlers(self.hub, desk), DriverHandlers(self.hub, desk),
                             AdminHandlers(self.hub))

        # CP2 stays connected and registered, so driver requests can start sessions on it.
        self.resident = FakeChannel()
        self.run(self._connect_resident())

    async def _connect_resident(self) -> None:
        from evcentral.boundary import dispatch
        from evwire import make_timestamped

        await dispatch(self.router, make_auth_request("CP2", SECRETS["CP2"]), self.resident)
        await dispatch(self.router, make_timestamped(t.REGISTER_REQUEST, cp_id="CP2",
                                                     max_charging_rate_kw=22.0), self.resident)
        if [m.get("status") for m in self.resident.sent] != ["success", "success"]:
            raise RuntimeError(f"the rig could not register CP2: {self.resident.sent}")

    def run(self, coro: object) -> object:
        return self.loop.run_until_complete(coro)

    def opening(self, role: object) -> dict | None:
        """The first message that makes a fresh channel the role's (valid credentials)."""
        if role == "monitor":
            return make_auth_request("CP1", SECRETS["CP1"])
        if role == "driver":
            return make_driver_auth_request("D1", DRIVER_SECRET)
        return None

    def prepare(self, msg: dict, role: object) -> dict:
        """Admin conversations carry the right token unless the input set one."""
        if role == "admin" and msg.get("type") == t.MANUAL_COMMAND:
            msg.setdefault("token", ADMIN_TOKEN)
        return msg


def conversation(data: bytes) -> tuple[object, list[object]]:
    """(role, messages) of an input: a CBOR list [role, msg...] or one payload."""
    try:
        value = loads(data)
    except WireError:
        return None, [data]
    if isinstance(value, list) and value:
        return value[0], value[1:]
    return None, [value]


def check_reply(reply: object, request: object) -> None:
    """A reply must be a valid catalogue message and never an internal error."""
    if not isinstance(reply, dict):
        raise Finding(f"reply is a {type(reply).__name__}")
    try:
        validate(reply)
        dumps(reply)
    except (WireError, ValueError) as exc:
        raise Finding(f"invalid reply {reply.get('type')}: {exc}") from None
    if reply.get("code") == "internal_error":
        raise Finding(f"internal error answering {request!r:.300}: {reply.get('error')}")
