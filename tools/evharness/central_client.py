"""Asking Central how the network is: the admin client, made fit for polling.

The harness polls Central often (CP states) and a Python process per poll
would load two busy cores, so it speaks the wire in-process through
`evcentral.admin_client.AdminClient`, the client `evcharge admin` itself uses.
This module adds what polling needs: a connection that is reopened after
Central restarts, one exception for "not reachable now", and connections
made from inside a network namespace when the hub is a separate host.
"""
from __future__ import annotations

import ssl

from evcentral.admin_client import AdminClient, CentralUnreachable, NoReply
from evharness.netns import connect_in_namespace
from evwire import types as t


class CentralUnavailable(ConnectionError):
    """Central could not be reached or did not answer in time."""


class CommandRefused(RuntimeError):
    """Central answered the command with status failure."""


class NamespacedAdminClient(AdminClient):
    """An AdminClient whose TCP connection starts in network namespace `namespace`."""

    def __init__(self, namespace: str, host: str, port: int, token: str | None,
                 timeout: float = 5.0, ssl_context: ssl.SSLContext | None = None):
        super().__init__(host, port, token, timeout, ssl_context)
        self.namespace = namespace

    def connect(self) -> None:
        try:
            self.sock = connect_in_namespace(self.namespace, (self.host, self.port),
                                             self.timeout)
        except OSError as exc:
            raise CentralUnreachable(f"cannot reach Central at {self.host}:{self.port} from "
                                     f"{self.namespace} ({exc.strerror or exc})") from None
        self._start_tls()


class CentralClient:
    def __init__(self, admin: AdminClient):
        self.admin = admin

    def close(self) -> None:
        self.admin.close()

    def manual(self, command: str, **fields: object) -> object:
        """Run an operator command; return its `data`, or raise CommandRefused."""
        try:
            reply = self.admin.command(command, **fields)
        except (CentralUnreachable, NoReply) as exc:
            self.admin.close()  # the next call connects afresh (Central may have restarted)
            raise CentralUnavailable(str(exc)) from exc
        if reply.get("type") == t.ERROR_RESPONSE or reply.get("status") != t.SUCCESS:
            text = reply.get("message") or reply.get("error") or "refused"
            raise CommandRefused(f"{command}: {text}")
        return reply.get("data")
