"""N simulated charge points in one asyncio process: the Monitor's side of the protocol.

Each charge point keeps one TCP connection to Central as a Monitor does:
auth_request with a real HMAC, register_request, a heartbeat every second,
start commands answered with command_response; its timers, back-off and
silence limit are the Monitor's published defaults (evbench.monitor_model), so
a reconnect storm here behaves as one of real Monitors would. While a session runs it sends one
charging_data a second to cp-events through the shared producers, stamped
with `created_ms` (its creation time, wall clock in ms), and at the end a
charge_completion. The per-second work is spread over SLOTS equal groups
fired in turn, so the load on Central is even within each second; how late
the groups fire is recorded as the generator's own lag.
"""
from __future__ import annotations

import asyncio
import time

from evbench.cp_link import CpLink, SimCp, SimSession, make_dispatcher
from evbench.metrics import Latencies
from evbench.monitor_model import (
    CONNECT_TIMEOUT_S,
    HANDSHAKE_TIMEOUT_S,
    HEARTBEAT_S,
    MIN_SILENCE_S,
    SILENCE_BEATS,
    monitor_backoff,
)
from evbench.producers import ProducerPool
from evwire import dumps, make
from evwire import types as t
from evwire.auth import make_auth_request, sign_record
from evwire.trace import log

SLOTS = 50
SILENCE_S = max(MIN_SILENCE_S, SILENCE_BEATS * HEARTBEAT_S)
RATE_KW = 11.0


class HandshakeFailed(Exception):
    pass


class Fleet:
    def __init__(self, host: str, port: int, secrets: dict[str, str], producers: ProducerPool,
                 requested_at: dict[str, tuple[float, Latencies]],
                 centrals: list[tuple[str, int]] | None = None):
        """centrals: several Centrals, as a Monitor's `--central A,B,C`: charge point i
        starts at the (i mod len)-th and, like the Monitor, moves to the next one after a
        failed connection or a lost link, with the back-off between tries."""
        self.host, self.port = host, port
        self.centrals = centrals or [(host, port)]
        self.cps = [SimCp(i, cp_id, secret, monitor_backoff())
                    for i, (cp_id, secret) in enumerate(secrets.items())]
        self.by_id = {cp.cp_id: cp for cp in self.cps}
        self.at = [i % len(self.centrals) for i in range(len(self.cps))]  # index in centrals
        self.dispatcher = make_dispatcher(self)
        self.producers = producers
        self.requested_at = requested_at  # charge_request message_id -> (sent, recorder)
        self.heartbeat_rtt = Latencies()
        self.tick_lag = Latencies()
        self.sent_ids: set[str] = set()
        self.completions_sent = 0
        self.reconnects = 0
        self.silence_drops = 0
        self.telemetry_on = True
        # A real Monitor's telemetry goes to Kafka whether or not Central is reachable
        # (its outbox); True: the same here (the failover), False: only while registered.
        self.telemetry_unlinked = False
        self.running = True
        self._tasks: list[asyncio.Task] = []
        self._gate: asyncio.Semaphore | None = None

    # -- connections -----------------------------------------------------------------
    async def connect_all(self, concurrency: int, timeout: float) -> float:
        """Start every charge point's connection; returns seconds until all registered."""
        self._gate = asyncio.Semaphore(concurrency)  # the first connection only: a bench setup
        started = time.monotonic()
        self._tasks = [asyncio.create_task(self._life(cp)) for cp in self.cps]
        await self.wait_registered(started, timeout)
        self._gate = None
        return time.monotonic() - started

    async def wait_registered(self, since: float, timeout: float, status: str | None = None
                              ) -> None:
        """Until every charge point registered after `since` (with `status` if given)."""
        deadline = time.monotonic() + timeout
        while self.registered_since(since, status) < len(self.cps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.registered_since(since, status)} of "
                                   f"{len(self.cps)} charge points registered in {timeout:g} s")
            await asyncio.sleep(0.05)

    def registered_since(self, since: float, status: str | None = None) -> int:
        return sum(1 for cp in self.cps
                   if cp.link is not None and cp.registered_at is not None
                   and cp.registered_at >= since and (status is None or cp.cp_status == status))

    async def _life(self, cp: SimCp) -> None:
        while self.running:
            problem = await self._connect_once(cp)
            if not self.running:
                return
            self.reconnects += 1
            self.at[cp.index] = (self.at[cp.index] + 1) % len(self.centrals)
            cp.backoff.link_down()
            delay = cp.backoff.next_delay()
            log("debug", f"{cp.cp_id}: {problem}; retrying in {delay:.2f} s")
            await asyncio.sleep(delay)

    async def _connect_once(self, cp: SimCp) -> str:
        loop = asyncio.get_running_loop()
        gate = self._gate
        if gate is not None:
            await gate.acquire()
        try:
            try:
                _transport, link = await asyncio.wait_for(
                    loop.create_connection(lambda: CpLink(cp, self),
                                           *self.centrals[self.at[cp.index]]),
                    CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                return f"cannot connect ({exc})"
            cp.link = link
            try:
                await self._handshake(cp, link)
            except HandshakeFailed as exc:
                link.close()
                return str(exc)
        finally:
            if gate is not None:
                gate.release()
        cp.backoff.link_up()
        await link.lost
        return "connection lost"

    async def _handshake(self, cp: SimCp, link: CpLink) -> None:
        auth = await link.ask(make_auth_request(cp.cp_id, cp.secret), HANDSHAKE_TIMEOUT_S)
        if auth is None or auth.get("status") != t.SUCCESS:
            raise HandshakeFailed(f"auth refused or unanswered: {auth}")
        reg = await link.ask(make(t.REGISTER_REQUEST, cp_id=cp.cp_id, timestamp=int(time.time()),
                                  max_charging_rate_kw=22.0, location="bench"),
                             HANDSHAKE_TIMEOUT_S)
        if reg is None or reg.get("status") != t.SUCCESS:
            raise HandshakeFailed(f"register refused or unanswered: {reg}")
        cp.cp_status = reg.get("cp_status")
        cp.registered_at = time.monotonic()
        link.registered = True

    # -- the per-second work ---------------------------------------------------------------
    def start_ticking(self) -> None:
        self._tasks.append(asyncio.create_task(self._tick_forever()))

    async def _tick_forever(self) -> None:
        loop = asyncio.get_running_loop()
        groups = [self.cps[i::SLOTS] for i in range(SLOTS)]
        step = HEARTBEAT_S / SLOTS
        due = loop.time()
        slot = 0
        while self.running:
            due += step
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.tick_lag.add(max(0.0, loop.time() - due))
            now = time.monotonic()
            for cp in groups[slot]:
                link = cp.link
                if link is not None and link.registered:
                    self._beat(cp, link, now)
                elif self.telemetry_unlinked and self.telemetry_on and cp.session is not None:
                    self._send_data(cp, cp.session)
            slot = (slot + 1) % SLOTS

    def _beat(self, cp: SimCp, link: CpLink, now: float) -> None:
        if now - link.last_heard > SILENCE_S:  # the Monitor gives up on a silent Central
            self.silence_drops += 1
            link.close()
            return
        session = cp.session
        charging = session is not None and session.confirmed
        beat = make(t.HEARTBEAT_REQUEST, cp_id=cp.cp_id,
                    status=t.CP_CHARGING if charging else t.CP_AVAILABLE,
                    timestamp=int(time.time()),
                    session_id=session.session_id if charging else None)
        if cp.auth_list_version is not None:
            beat["auth_list_version"] = cp.auth_list_version
        link.heartbeats[beat["message_id"]] = now
        link.send(beat)
        if charging and self.telemetry_on:
            self._send_data(cp, session)

    def _send_data(self, cp: SimCp, session: SimSession) -> None:
        session.energy_kwh += RATE_KW / 3600.0 * HEARTBEAT_S
        wall = time.time()
        msg = make(t.CHARGING_DATA, cp_id=cp.cp_id, session_id=session.session_id,
                   driver_id=session.driver_id,
                   energy_consumed_kwh=round(session.energy_kwh, 3),
                   total_cost=round(session.energy_kwh * session.price_per_kwh, 2),
                   charging_rate=RATE_KW, timestamp=int(wall), created_ms=int(wall * 1000),
                   price_per_kwh=session.price_per_kwh)
        # Signed with the CP's secret as a Monitor does (Central drops unsigned records).
        if self.producers.produce(cp.index, cp.key, dumps(sign_record(msg, cp.secret))):
            self.sent_ids.add(msg["message_id"])

    def complete(self, cp: SimCp) -> bool:
        """End the charge point's session: its charge_completion goes to cp-events."""
        session = cp.session
        if session is None:
            return False
        cp.session = None
        energy = round(session.energy_kwh, 3)
        msg = make(t.CHARGE_COMPLETION, cp_id=cp.cp_id, session_id=session.session_id,
                   driver_id=session.driver_id, energy_consumed_kwh=energy,
                   total_cost=round(energy * session.price_per_kwh, 2), reason=t.REASON_EV_FULL,
                   price_per_kwh=session.price_per_kwh, timestamp=int(time.time()))
        if self.producers.produce(cp.index, cp.key, dumps(sign_record(msg, cp.secret))):
            self.completions_sent += 1
            return True
        return False

    def complete_all(self) -> int:
        return sum(1 for cp in self.cps if self.complete(cp))

    # -- called by the links ---------------------------------------------------------------
    def start_command_arrived(self, message_id: str) -> None:
        sent = self.requested_at.pop(message_id, None)
        if sent is not None:
            sent[1].add(time.monotonic() - sent[0])

    async def close(self) -> None:
        self.running = False
        for cp in self.cps:
            if cp.link is not None:
                cp.link.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
