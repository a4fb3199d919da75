"""A network's TLS material, made with `evcharge pki` (evcharge.pki) and the flags
that hand it to each tier: Central serves its certificate and asks for client
certificates from the CA; Monitors present one each; drivers and the operator
verify Central with --ca.
"""
from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from evcharge import pki
from evhost.tlsclient import client_context

SERVER_NAME = "central"


@dataclass
class NetworkTLS:
    folder: Path

    @classmethod
    def create(cls, folder: Path, hub_address: str, cp_ids: list[str]) -> NetworkTLS:
        """A fresh CA in folder, a server certificate for hub_address, one per CP."""
        folder.mkdir(parents=True, exist_ok=True)
        pki.init(folder, "evcharge test network CA", 30, force=True)
        try:
            ips, dns = [ipaddress.ip_address(hub_address)], []
        except ValueError:
            ips, dns = [], [hub_address]
        pki.issue(folder, SERVER_NAME, 30, True, True, ips, dns)
        for cp_id in cp_ids:
            pki.issue(folder, cp_id, 30, True, False)
        return cls(folder)

    @property
    def ca(self) -> str:
        return str(self.folder / pki.CA_CERT)

    def central_args(self) -> list[str]:
        return ["--tls-cert", str(self.folder / f"{SERVER_NAME}.pem"),
                "--tls-key", str(self.folder / f"{SERVER_NAME}.key"), "--tls-client-ca", self.ca]

    def monitor_args(self, cp_id: str) -> list[str]:
        return ["--ca", self.ca, "--tls-cert", str(self.folder / f"{cp_id}.pem"),
                "--tls-key", str(self.folder / f"{cp_id}.key")]

    def client_args(self, argv: list[str]) -> list[str]:
        """argv (`driver ...` or `admin ...`) with --ca right after the subcommand."""
        return [argv[0], "--ca", self.ca, *argv[1:]]

    def context(self) -> ssl.SSLContext:
        return client_context(self.ca)
