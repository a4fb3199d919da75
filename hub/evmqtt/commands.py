"""HA's button presses -> Central admin commands (stop_cp / resume_cp).

MQTT is untrusted input: only `PREFIX<cp>/command/stop|resume` with exactly the
button's payload_press, for a CP the bridge knows, becomes a command; anything
else is logged (one line per message) and changes nothing. Who may publish to
the command topics at all is the broker's job (password file, ACL: docs/MQTT.md);
the bridge subscribes to them only on a broker it logs in to (evmqtt.cli).
Commands wait in a small bounded queue for one worker thread holding one
admin connection to Central, so a slow or absent Central stalls nothing.
"""
from __future__ import annotations

import queue
import ssl
import threading
from collections.abc import Callable

from evcentral.admin_client import AdminClient, CentralUnreachable, NoReply
from evmqtt.topics import COMMANDS, Topics
from evwire import types as t
from evwire.trace import log

QUEUE_MAX = 64
REASON = "from MQTT (Home Assistant button)"
ADMIN_COMMAND = {"stop": "stop_cp", "resume": "resume_cp"}


class CommandWorker:
    def __init__(self, host: str, port: int, token: str | None,
                 ssl_context: ssl.SSLContext | None = None, timeout: float = 5.0):
        self.host, self.port, self.token = host, port, token
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.queue: queue.Queue[tuple[str, str] | None] = queue.Queue(QUEUE_MAX)
        self.known: Callable[[str], bool] = lambda _cp_id: False
        self.bad: Callable[[str, str], None] = log
        self.client: AdminClient | None = None
        self.done = 0
        self._thread: threading.Thread | None = None

    def offer(self, topic: str, payload: bytes, size: int, topics: Topics) -> None:
        """From paho's thread: check one message, queue it as a command or log why not."""
        parsed = topics.parse_command(topic)
        if parsed is None:
            self.bad("warning", f"mqtt: message on {topic[:200]} ignored: not a command topic")
            return
        cp_id, button = parsed
        expected = COMMANDS[button].encode()
        if payload != expected or size != len(expected):
            self.bad("warning", f"mqtt: {button} for {cp_id} ignored: payload {payload[:32]!r}"
                                f" is not {expected.decode()!r}")
            return
        if not self.known(cp_id):
            self.bad("warning", f"mqtt: {button} for unknown CP {cp_id} ignored")
            return
        try:
            self.queue.put_nowait((cp_id, button))
        except queue.Full:
            self.bad("warning", f"mqtt: {button} for {cp_id} dropped: {QUEUE_MAX} commands "
                                "already wait for Central")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-commands", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass
        if self._thread is not None:
            self._thread.join(self.timeout + 1)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                break
            self._send(*item)
        if self.client is not None:
            self.client.close()

    def _send(self, cp_id: str, button: str) -> None:
        command = ADMIN_COMMAND[button]
        for attempt in (1, 2):  # a second time on a fresh connection (Central restarted)
            try:
                if self.client is None:
                    self.client = AdminClient(self.host, self.port, self.token, self.timeout,
                                              ssl_context=self.ssl_context)
                    self.client.connect()
                reply = self.client.command(command, cp_id=cp_id, reason=REASON
                                            if button == "stop" else None)
                break
            except (CentralUnreachable, NoReply, OSError) as exc:
                if self.client is not None:
                    self.client.close()
                self.client = None
                if attempt == 2:
                    log("error", f"mqtt: {command} {cp_id} not sent: {exc}")
                    return
        status = reply.get("status")
        text = reply.get("message") or reply.get("error") or ""
        if status == t.SUCCESS:
            self.done += 1
            log("notice", f"mqtt: {command} {cp_id}: {text}")
        else:
            log("warning", f"mqtt: {command} {cp_id} refused by Central: {status} {text}")
