"""The client side of TLS to Central, for the Driver and the admin console.

`--ca PEM` names the CA that signed Central's certificate; the connection then
verifies the certificate chain and that it was issued for the address typed in
--central (a DNS name or IP address in its subjectAltName), and refuses
anything else with a one-line reason. (The Monitor has its own copy of these
few lines in evmonitor.tls: firmware/ does not import hub/ code.)
"""
from __future__ import annotations

import socket
import ssl


class TLSClientError(Exception):
    """TLS could not be set up or was refused; str(e) is one line. refused: the peer's
    certificate (or its protocol) was rejected, which retrying will not change."""

    def __init__(self, text: str, refused: bool = True):
        super().__init__(text)
        self.refused = refused


def client_context(ca: str) -> ssl.SSLContext:
    """A verifying context trusting only the CA in the PEM file ca."""
    # PROTOCOL_TLS_CLIENT: CERT_REQUIRED and check_hostname; no system CAs, only ca.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_verify_locations(cafile=ca)
    except FileNotFoundError:
        raise TLSClientError(f"--ca {ca}: no such file") from None
    except (OSError, ssl.SSLError) as exc:
        raise TLSClientError(f"--ca {ca} does not load as PEM certificates "
                             f"({describe(exc)})") from None
    return ctx


def wrap(sock: socket.socket, ctx: ssl.SSLContext, host: str) -> ssl.SSLSocket:
    """sock after a verified handshake with host; TLSClientError (sock closed) if refused."""
    try:
        return ctx.wrap_socket(sock, server_hostname=host)
    except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
        sock.close()
        # A reset or timeout mid-handshake (Central restarting) is worth a retry;
        # a certificate or protocol refusal is not.
        refused = isinstance(exc, ssl.SSLError | ssl.CertificateError)
        raise TLSClientError(f"TLS to Central at {host} failed: {describe(exc)}",
                             refused) from None


def describe(exc: BaseException) -> str:
    """A short reason, with what to check for the usual one (a wrong --ca)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or exc.reason or "?"
        return (f"certificate verify failed: {why} (is --ca the CA that issued Central's "
                "certificate, for this address?)")
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or "connection closed during the TLS handshake"
