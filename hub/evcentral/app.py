"""Central as a running service: wire the parts together, serve until SIGTERM."""
from __future__ import annotations

import asyncio
import gc
import signal
import sys

from evcentral import logsink
from evcentral.admin_handlers import AdminHandlers
from evcentral.audit import AuditTrail
from evcentral.auth import Authenticator
from evcentral.boundary import Router
from evcentral.charging import ChargeDesk
from evcentral.config import Config, Hub
from evcentral.cp_handlers import CpHandlers
from evcentral.db import Database
from evcentral.driver_handlers import DriverHandlers
from evcentral.kafka_records import KafkaRecords
from evcentral.registry import Registry
from evcentral.server import Gateway
from evcentral.session_store import SessionStore
from evcentral.sessions import Sessions
from evcentral.telemetry import KafkaBridge
from evcentral.throttle import FailureThrottle
from evkafka import names
from evkafka.broker import DEFAULT_LOCAL_BROKER
from evkafka.local import ensure_local_broker
from evwire.trace import log

# The cyclic garbage collector's thresholds once serving (CPython's: 700, 10, 10).
# Central's messages, futures and Kafka records are freed by reference counting,
# yet with the defaults some outlive a young collection, get promoted, and every
# few seconds trigger a full collection that scans every connection, session and
# charge point to free nothing: pauses of 100+ ms at 5,000 CPs, during which no
# heartbeat is answered (docs/BENCHMARKS.md, Profiling). Rarer young collections
# promote far less; a full one then comes every few minutes.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_garbage_collector() -> None:
    """Exempt what start-up built (code, provisioned CPs) from later collections,
    and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class StartupError(Exception):
    """Central cannot start; the text is the one line shown to the operator."""


def choose_broker(config: Config) -> str:
    """--kafka if given, else the local broker at its default address (started if needed)."""
    if config.kafka:
        log("info", f"using Kafka at {config.kafka}")
        return config.kafka
    try:
        local = ensure_local_broker(DEFAULT_LOCAL_BROKER)
    except (OSError, RuntimeError, TimeoutError, ValueError) as exc:
        raise StartupError(f"no --kafka given and the local broker at {DEFAULT_LOCAL_BROKER} "
                           f"could not be started: {exc}") from None
    if local.started:
        log("notice", f"started a local broker at {local.address} (pid {local.pid}, memory only,"
                      f" log {local.log_path}); it keeps running after Central exits")
    else:
        log("info", f"using the local broker already running at {local.address}")
    return local.address


class Central:
    def __init__(self, config: Config):
        self.config = config
        try:
            self.db = Database(config.db_path)
        except Exception as exc:  # sqlite3 / OSError / damaged key: one line for the operator
            raise StartupError(f"cannot open database {config.db_path}: {exc}") from None
        self.bootstrap = choose_broker(config)
        self.bridge = KafkaBridge(self.bootstrap, [names.cp_events(), names.driver_requests()],
                                  names.central_group())
        self.registry = Registry(self.db, config.heartbeat_timeout, config.price_per_kwh)
        driver_events = names.driver_events()
        self.sessions = Sessions(SessionStore(self.db), self.registry,
                                 lambda driver_id, value: self.bridge.publish(driver_events,
                                                                              driver_id, value))
        self.hub = Hub(config, self.db, self.registry, self.sessions,
                       Authenticator(self.db, config.auth_skew), AuditTrail(self.db),
                       FailureThrottle())
        desk = ChargeDesk(self.hub)
        self.router = Router(CpHandlers(self.hub, desk), DriverHandlers(self.hub, desk),
                             AdminHandlers(self.hub))
        self.records = KafkaRecords(self.hub, self.router, self.bridge)
        self.gateway = Gateway(config, self.router, self.registry)

    async def _expire_starts(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.sessions.expire_starts(self.config.start_timeout)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        logsink.SINK.attach(loop)
        try:
            return await self._serve(loop)
        finally:
            logsink.SINK.detach()

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> int:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.bridge.start(loop, self.records.handle_batch)
        self.sessions.restore()
        try:
            await asyncio.wait_for(self.bridge.connected.wait(), self.config.kafka_timeout)
        except TimeoutError:
            log("warning", f"Kafka at {self.bootstrap} not reachable after "
                           f"{self.config.kafka_timeout:g} s: serving anyway, still retrying")
        try:
            host, port = await self.gateway.start()
        except OSError as exc:
            await self.bridge.stop(1.0)
            raise StartupError(f"cannot listen on {self.config.host}:{self.config.port}: "
                               f"{exc.strerror or exc}") from None
        tasks = [asyncio.create_task(self.registry.watchdog()),
                 asyncio.create_task(self._expire_starts()),
                 asyncio.create_task(self.gateway.sweep())]
        settle_garbage_collector()
        # Always shown, whatever --log-level: tests, the demo and operators wait for it.
        logsink.SINK.flush()  # after the lines logged before it
        sys.stderr.write(f"<5>evcharge-central: ready listening on {host}:{port}\n")
        sys.stderr.flush()
        await stop.wait()
        log("notice", "shutting down")
        for task in tasks:
            task.cancel()
        await self.gateway.close()
        await self.sessions.drain(3.0)
        await self.bridge.stop()
        self.db.close()
        log("notice", "stopped")
        return 0
