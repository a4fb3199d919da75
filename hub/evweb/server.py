"""The web server inside Central: an aiohttp application on Central's own event loop
(started and stopped by evcentral.app), TLS with the listener's context when
configured. Every error leaves as JSON with an `error` (API) and no traceback."""
from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from evcentral.config import Hub
from evweb.api import Api
from evweb.auth import WebAuth
from evweb.errors import ApiError, json_error, response_of
from evweb.guard import ConnectionGuard
from evweb.live import LiveFeed
from evweb.validate import MAX_BODY
from evwire.trace import log

STATIC = Path(__file__).parent / "static"
PAGES = {"/": "console.html", "/driver": "driver.html"}
# Our pages load only our own files: no CDN, no inline script, no framing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@web.middleware
async def errors_as_json(request: web.Request, handler):
    try:
        response = await handler(request)
    except ApiError as err:
        response = response_of(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = {404: "no such path", 405: "method not allowed",
                413: f"request body larger than {MAX_BODY} bytes"}.get(exc.status, exc.reason)
        response = json_error(exc.status, text, exc.reason.lower().replace(" ", "_"))
    except Exception as exc:  # the one boundary: a bug costs this request, not Central
        log("error", f"web: {request.method} {request.path} failed: {exc!r}")
        response = json_error(500, "internal error", "internal")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def page(request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC / PAGES[request.path])
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    return response


class WebServer:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.live = LiveFeed(hub)
        self.api = Api(hub, WebAuth(hub), self.live)
        self.app = web.Application(middlewares=[errors_as_json], client_max_size=MAX_BODY)
        self.app.add_routes([web.get(path, page) for path in PAGES])
        self.app.add_routes(self.api.routes())
        self.app.router.add_static("/static/", STATIC, show_index=False)
        self.runner: web.AppRunner | None = None
        self.guard: ConnectionGuard | None = None
        self.listener: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> str:
        """Listen; return the console's URL."""
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                    shutdown_timeout=2.0)
        await self.runner.setup()
        ssl = self.hub.config.ssl_context
        # Not web.TCPSite: aiohttp's protocol behind the guard (deadline, per-address cap).
        assert self.runner.server is not None
        self.guard = ConnectionGuard(self.hub.config, self.runner.server)
        self.listener = await asyncio.get_running_loop().create_server(
            self.guard.protocol, host, port, ssl=ssl, backlog=256, reuse_address=True)
        self.live.start()
        bound_host, bound_port = self.listener.sockets[0].getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        return f"{'https' if ssl else 'http'}://{shown}:{bound_port}/"

    async def stop(self) -> None:
        await self.live.stop()
        if self.listener is not None:
            self.listener.close()
        if self.runner is not None:
            await self.runner.cleanup()
