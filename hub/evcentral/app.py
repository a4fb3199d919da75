"""Central as a running service: wire the parts together, serve until SIGTERM.

Under systemd (docs/CENTRAL.md, "Running Central as a service") it says READY=1 once
it listens, pings WATCHDOG=1 from its event loop and says STOPPING=1 on SIGTERM;
then it stops within SHUTDOWN_BUDGET_S: no new connection or message, the Kafka
batch in hand finished and committed, the messages in flight answered, the links
closed, the producer flushed, the database closed, exit 0.
"""
from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from evcentral import logsink
from evcentral.admin_handlers import AdminHandlers
from evcentral.audit import AuditTrail
from evcentral.auth import Authenticator
from evcentral.boundary import Router, dispatch
from evcentral.charging import ChargeDesk
from evcentral.cluster import Cluster
from evcentral.config import Config, Hub
from evcentral.cp_handlers import CpHandlers
from evcentral.db import Database
from evcentral.driver_handlers import DriverHandlers
from evcentral.kafka_records import KafkaRecords
from evcentral.registry import Registry
from evcentral.relay import Relay
from evcentral.relay_reader import RelayReader
from evcentral.server import Gateway
from evcentral.session_store import SessionStore
from evcentral.sessions import Sessions
from evcentral.sites import SiteAllocator, chain
from evcentral.status_feed import StatusFeed
from evcentral.telemetry import KafkaBridge
from evcentral.throttle import FailureThrottle
from evhost.sdnotify import Notifier
from evkafka import names
from evkafka.broker import DEFAULT_LOCAL_BROKER
from evkafka.local import ensure_local_broker
from evwire.trace import announce, log

# The cyclic garbage collector's thresholds once serving (CPython's: 700, 10, 10).
# Central's messages, futures and Kafka records are freed by reference counting,
# yet with the defaults some outlive a young collection, get promoted, and every
# few seconds trigger a full collection that scans every connection, session and
# charge point to free nothing: pauses of 100+ ms at 5,000 CPs, during which no
# heartbeat is answered (docs/BENCHMARKS.md, Profiling). Rarer young collections
# promote far less; a full one then comes every few minutes.
GC_THRESHOLDS = (50_000, 20, 100)

# SIGTERM to exit: under systemd's TimeoutStopSec and the 5 s an operator (or an
# orchestrator) expects. Each step gets a cap, and no more than what is left.
SHUTDOWN_BUDGET_S = 4.0
KAFKA_DRAIN_S = 1.5  # the batch being handled: stored, delivered, committed
LINKS_DRAIN_S = 1.0  # messages being handled answered, output flushed, links closed
SERVER_CLOSE_S = 0.5  # the OCPP and web listeners and their connections


def settle_garbage_collector() -> None:
    """Exempt what start-up built (code, provisioned CPs) from later collections,
    and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def make_private(db_path: str) -> None:
    """Central's database (sessions, billing, encrypted secrets) and the -wal/-shm beside
    it readable by Central's user only, also when an older version created them 0644.
    SQLite creates a -wal/-shm later with the database file's mode: 0600 too."""
    for path in (db_path, f"{db_path}-wal", f"{db_path}-shm"):
        if os.path.exists(path) and os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)


class DaemonThreads(ThreadPoolExecutor):
    """The loop's default executor (asyncio.to_thread): one daemon thread per call.

    Central's blocking calls are rare and some wait on the broker (a topic to create,
    up to 10 s): a ThreadPoolExecutor's workers are joined at exit, so one of those
    would hold a SIGTERM'd Central past its shutdown budget; daemon threads are not."""

    def submit(self, fn: Callable, /, *args: object, **kwargs: object) -> Future:
        future: Future = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the awaiting coroutine
                future.set_exception(exc)

        threading.Thread(target=run, name="evcentral-blocking", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass  # no pool to join: the threads end with their call, or with the process


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
    def __init__(self, config: Config, notifier: Notifier | None = None):
        self.config = config
        self.notifier = notifier or Notifier()
        try:
            self.db = Database(config.db_path, config.db_key_file)
            if not self.db.is_postgres:
                make_private(config.db_path)
        except Exception as exc:  # sqlite3 / psycopg / OSError / damaged key: one line
            raise StartupError(f"cannot open database {config.db_path}: {exc}") from None
        self.bootstrap = choose_broker(config)
        # PostgreSQL: other Centrals may share the database (evcentral.cluster); the
        # consumer group divides the telemetry between them.
        shared = self.db.is_postgres
        self.bridge = KafkaBridge(self.bootstrap, [names.cp_events(), names.driver_requests()],
                                  names.central_group(), shared_group=shared)
        self.registry = Registry(self.db, config.heartbeat_timeout, config.price_per_kwh)
        driver_events = names.driver_events()
        self.sessions = Sessions(SessionStore(self.db), self.registry,
                                 lambda driver_id, value: self.bridge.publish(driver_events,
                                                                              driver_id, value),
                                 config.time_scale)
        cp_status = names.cp_status()
        self.status_feed = StatusFeed(
            self.registry, lambda cp_id, value: self.bridge.publish(cp_status, cp_id, value,
                                                                   wait=False),
            self.bootstrap)
        self.registry.on_change = self.status_feed.state_changed
        self.sessions.on_event = self.status_feed.session_event
        self.sites = SiteAllocator(self.db, self.registry, self.sessions)
        self.registry.on_change = chain(self.sites.state_changed, self.registry.on_change)
        self.registry.on_change = chain(self.sessions.cp_state_changed, self.registry.on_change)
        self.sessions.on_event = chain(self.sites.session_event, self.sessions.on_event)
        self.sessions.limit_of = self.sites.limit_of
        self.status_feed.sites = self.sites
        self.cluster = Cluster(self.registry, self.sessions, config.central_id, shared)
        self.sessions.shared_store = shared
        self.relay: Relay | None = None
        self.relay_reader: RelayReader | None = None
        if shared:
            relay_topic = names.central_relay()
            self.relay = Relay(config.central_id, self.db.box.derive(b"central-relay"),
                               lambda owner, value: self.bridge.publish(relay_topic, owner, value),
                               lambda driver_id, value: self.bridge.publish(driver_events,
                                                                            driver_id, value))
            self.relay_reader = RelayReader(self.bootstrap, relay_topic, config.central_id,
                                            self.relay.received)
            self.relay.reading = self.relay_reader.ready.is_set
        self.hub = Hub(config, self.db, self.registry, self.sessions,
                       Authenticator(self.db, config.auth_skew), AuditTrail(self.db),
                       FailureThrottle(), self.sites,
                       self.cluster if shared else None, self.relay)
        desk = ChargeDesk(self.hub)
        self.router = Router(CpHandlers(self.hub, desk), DriverHandlers(self.hub, desk),
                             AdminHandlers(self.hub))
        self.records = KafkaRecords(self.hub, self.router, self.bridge)
        if self.relay is not None:
            self.relay.dispatch = lambda msg, channel: dispatch(self.router, msg, channel)
        self.gateway = Gateway(config, self.router, self.registry)
        self.ocpp = None
        if config.ocpp:  # imported only when used: the websockets and ocpp packages
            from evocpp.server import OcppGateway
            self.ocpp = OcppGateway(self.hub, desk, config.ocpp[0], config.ocpp[1],
                                    config.ssl_context, config.ocpp_heartbeat_interval)

        self.web = None
        if config.http:  # imported only when used: aiohttp
            from evweb.live import tee
            from evweb.server import WebServer
            self.web = WebServer(self.hub)
            self.registry.on_change = tee(self.registry.on_change, self.web.live.state_changed)
            self.sessions.on_event = tee(self.sessions.on_event, self.web.live.session_event)
            # CPs and sessions another Central holds (evcentral.cluster): shown live too
            self.registry.on_remote_change = self.web.live.state_changed
            self.sessions.on_remote_event = self.web.live.session_event

    async def _expire_starts(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.sessions.expire_starts(self.config.start_timeout)

    async def _start_web(self) -> None:
        http_host, http_port = self.config.http
        try:
            url = await self.web.start(http_host, http_port)
        except OSError as exc:
            await self.gateway.close()
            await self.bridge.stop(1.0)
            raise StartupError(f"cannot listen for the web console on {http_host}:{http_port}: "
                               f"{exc.strerror or exc}") from None
        # Always shown, as the ready line: the demo and operators look for the URL.
        announce(f"web console at {url}")
        logsink.SINK.flush()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(DaemonThreads())
        logsink.SINK.attach(loop)
        try:
            return await self._serve(loop)
        finally:
            logsink.SINK.detach()

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> int:
        stop = asyncio.Event()

        def on_signal(name: str) -> None:
            if not stop.is_set():
                log("notice", f"{name}: shutting down")
                stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, signal.Signals(sig).name)
        self.bridge.start(loop, self.records.handle_batch)
        self.sessions.restore()
        if self.cluster.enabled:
            log("notice", f"Central {self.config.central_id}: other Centrals may share this "
                          "database (leases, consumer group, central-relay)")
            self.cluster.sync()  # the CPs other Centrals hold, before publishing states
            assert self.relay_reader is not None
            self.relay_reader.start(loop)
        self.status_feed.start()
        if not await self._wait_for_kafka(stop):
            await self._shutdown([])  # SIGTERM while waiting for the broker
            return 0
        try:
            host, port = await self.gateway.start()
        except OSError as exc:
            await self.bridge.stop(1.0)
            raise StartupError(f"cannot listen on {self.config.host}:{self.config.port}: "
                               f"{exc.strerror or exc}") from None
        if self.ocpp is not None:
            try:
                ocpp_host, ocpp_port = await self.ocpp.start()
            except OSError as exc:
                await self.gateway.close()
                await self.bridge.stop(1.0)
                raise StartupError(f"cannot listen for OCPP on {self.config.ocpp[0]}:"
                                   f"{self.config.ocpp[1]}: {exc.strerror or exc}") from None
            log("notice", f"OCPP 1.6J gateway listening on {ocpp_host}:{ocpp_port} "
                          f"(ws{'s' if self.config.ssl_context else ''}://.../ocpp/CP_ID)")
        if self.web is not None:
            await self._start_web()
        tasks = [asyncio.create_task(self.registry.watchdog()),
                 asyncio.create_task(self._expire_starts()),
                 asyncio.create_task(self.sites.run()),
                 asyncio.create_task(self.gateway.sweep()),
                 asyncio.create_task(self.notifier.ping_watchdog()),
                 asyncio.create_task(self.cluster.run())]
        settle_garbage_collector()
        # Always shown, whatever --log-level: tests, the demo and operators wait for it.
        logsink.SINK.flush()  # after the lines logged before it
        announce(f"ready listening on {host}:{port}")
        logsink.SINK.flush()  # now, not at the loop's next turn
        self.notifier.ready(f"listening on {host}:{port}")
        await stop.wait()
        await self._shutdown(tasks)
        return 0

    async def _wait_for_kafka(self, stop: asyncio.Event) -> bool:
        """Wait up to --kafka-timeout for the broker; False if told to stop meanwhile."""
        waits = [asyncio.create_task(self.bridge.connected.wait()),
                 asyncio.create_task(stop.wait())]
        await asyncio.wait(waits, timeout=self.config.kafka_timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        if stop.is_set():
            return False
        if not self.bridge.connected.is_set():
            log("warning", f"Kafka at {self.bootstrap} not reachable after "
                           f"{self.config.kafka_timeout:g} s: serving anyway, still retrying")
        return True

    async def _shutdown(self, tasks: list[asyncio.Task]) -> None:
        """Stop accepting, finish what is in flight, close the links, flush, close."""
        deadline = time.monotonic() + SHUTDOWN_BUDGET_S

        def left(cap: float) -> float:
            return max(0.1, min(cap, deadline - time.monotonic()))

        self.notifier.stopping()
        self.sessions.stopping = True  # the links Central closes now are not CPs lost
        self.gateway.stop_accepting()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Kafka first, while the links are up: the batch in hand may still answer a
        # driver or send a CP its start command. Its offsets are committed once stored.
        await self.bridge.stop_consuming(left(KAFKA_DRAIN_S))
        await self.gateway.close(left(LINKS_DRAIN_S))
        for name, server in (("OCPP", self.ocpp), ("web", self.web)):
            if server is not None:
                closing = server.close() if server is self.ocpp else server.stop()
                try:  # their close handshakes wait for peers: bounded
                    await asyncio.wait_for(closing, left(SERVER_CLOSE_S))
                except TimeoutError:
                    log("warning", f"the {name} server did not close in time: dropped")
        self.status_feed.stop()
        if self.relay_reader is not None:
            self.relay_reader.stop()
        await self.cluster.stop()  # after the links closed: the CPs are free at once
        await self.sessions.drain(left(SHUTDOWN_BUDGET_S))
        # Whatever was produced (tickets, the CPs' last states) gets the time left.
        await self.bridge.stop_producing(left(SHUTDOWN_BUDGET_S))
        self.db.close()
        self.notifier.close()
        log("notice", "stopped")
