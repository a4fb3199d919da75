"""A small real HTTP client for the web tests (http.client: no mocks, own source address)."""
from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
from urllib.parse import urlsplit

import pytest


class Http:
    def __init__(self, base_url: str, source: str | None = None):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.source = source

    def call(self, method: str, path: str, body: object = None, headers: dict | None = None,
             raw: bytes | None = None) -> tuple[int, object, dict]:
        """(status, decoded JSON or text, headers) of one request on a fresh connection."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30,
                                          source_address=(self.source, 0) if self.source else None)
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            hdrs = dict(headers or {})
            if data is not None:
                hdrs.setdefault("Content-Type", "application/json")
            # API paths are given after /api/v1; pages and static files with "=/path"
            target = path[1:] if path.startswith("=") else "/api/v1" + path
            conn.request(method, target, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode()
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = text
            return resp.status, decoded, dict(resp.getheaders())
        finally:
            conn.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def basic(driver_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{driver_id}:{secret}".encode()).decode()}


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            return f"{path} not installed (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install -e .[test])"
    return None


def need_browser() -> None:
    """Skip with the reason locally; fail in CI, where .ci/run installs them."""
    why = browser_missing()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests need Chromium in CI: {why}")
    pytest.skip(why)
