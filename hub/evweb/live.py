"""Live updates for consoles: Central's change hooks mark CPs dirty, and every
FLUSH_S the changed CPs go to each connected console in one WebSocket message.

Bounded everywhere: at most MAX_CLIENTS consoles, each with a queue of
QUEUE_LIMIT messages (a console that falls that far behind is closed, it reloads
the snapshot when it reconnects); the power history keeps HISTORY_POINTS samples
(one every SAMPLE_S) per CP, in memory only.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque

from aiohttp import WSMsgType, web

from evcentral.config import Hub
from evcentral.registry import ChargePoint
from evcentral.session_store import Session
from evweb.views import cp_json
from evwire import types as t
from evwire.trace import log

FLUSH_S = 0.2
SAMPLE_S = 5.0
HISTORY_POINTS = 120  # 10 minutes at one sample every 5 s
MAX_CLIENTS = 200
QUEUE_LIMIT = 64


class LiveFeed:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.dirty: set[str] = set()
        self.sessions_changed = False
        self.history: dict[str, deque[tuple[int, float]]] = {}
        self.clients: set[asyncio.Queue] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    # -- hooks, called by Central on its loop (app.py) ------------------------------------
    def state_changed(self, cp: ChargePoint, _why: str = "") -> None:
        self.dirty.add(cp.cp_id)
        self._wake.set()

    def session_event(self, session: Session, event: str) -> None:
        self.dirty.add(session.cp_id)
        if event != t.STATUS_EVENT_SESSION_LIVE:
            self.sessions_changed = True
        self._wake.set()

    # -- running ------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._flusher()), asyncio.create_task(self._sampler())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for queue in list(self.clients):
            self._close(queue)

    async def _flusher(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(FLUSH_S)  # gather what changes meanwhile into one message
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        dirty, self.dirty = self.dirty, set()
        cps = [cp_json(self.hub, cp) for cp_id in sorted(dirty)
               if (cp := self.hub.registry.cps.get(cp_id)) is not None]
        message = {"type": "cps", "at": time.time(), "cps": cps}
        if self.sessions_changed:
            message["sessions_changed"] = True
            self.sessions_changed = False
        if cps or message.get("sessions_changed"):
            self._broadcast(json.dumps(message))

    async def _sampler(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_S)

    def sample(self) -> None:
        now = int(time.time())
        for cp_id, cp in self.hub.registry.cps.items():
            kw = cp.session.rate_kw if cp.session is not None else 0.0
            points = self.history.get(cp_id)
            if points is None:
                if not kw:
                    continue  # never charged since Central started: nothing to draw
                points = self.history[cp_id] = deque(maxlen=HISTORY_POINTS)
            points.append((now, round(kw, 2)))
        for cp_id in [c for c in self.history if c not in self.hub.registry.cps]:
            del self.history[cp_id]

    def snapshot(self) -> dict:
        self.hub.registry.refresh()
        cps = [cp_json(self.hub, cp) for _id, cp in sorted(self.hub.registry.cps.items())]
        return {"type": "snapshot", "at": time.time(), "cps": cps,
                "history": {cp_id: list(points) for cp_id, points in self.history.items()},
                "sample_s": SAMPLE_S}

    # -- consoles -----------------------------------------------------------------------
    def _broadcast(self, text: str) -> None:
        for queue in list(self.clients):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:
                self._close(queue)

    def _close(self, queue: asyncio.Queue) -> None:
        self.clients.discard(queue)
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(None)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """One console's WebSocket: the snapshot, then changes as they happen."""
        if len(self.clients) >= MAX_CLIENTS:
            return web.json_response({"error": "too many consoles connected",
                                      "reason": "busy"}, status=503)
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1024)
        await ws.prepare(request)
        queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self.clients.add(queue)
        reader = asyncio.create_task(self._drain_input(ws, queue))
        try:
            await ws.send_str(json.dumps(self.snapshot()))
            while (text := await queue.get()) is not None:
                await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass  # the console went away
        finally:
            self.clients.discard(queue)
            reader.cancel()
            await ws.close()
        return ws

    async def _drain_input(self, ws: web.WebSocketResponse, queue: asyncio.Queue) -> None:
        """Consoles send nothing; reading notices their close (and answers pings)."""
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
        self._close(queue)


def tee(first, second):
    """One hook calling both: Central's own (first) and the web's, whose failure is
    logged and contained so that it never breaks the handler that changed the state."""
    def both(*args) -> None:
        if first is not None:
            first(*args)
        try:
            second(*args)
        except Exception as exc:  # noqa: BLE001 - a side channel, like status_feed's
            log("error", f"web: live update failed: {exc!r}")
    return both
