"""TLS for Central's listener, and the rule that keeps plaintext on loopback.

`--tls-cert PEM --tls-key PEM` make the listener speak TLS (1.2 or newer) and
nothing else: a plaintext peer fails the handshake and is closed unanswered.
`--tls-client-ca PEM` asks every peer for a certificate and, when one is
presented, verifies it against that CA (Monitors may carry one; drivers and
operators prove who they are with their secrets, as on plaintext).

A listener off loopback without TLS would carry CP and driver MACs, admin
tokens and billing over the wire in the clear: `check_listen` refuses it unless
the operator says `--insecure` (e.g. behind a VPN that already encrypts).
"""
from __future__ import annotations

import ipaddress
import socket
import ssl


class TLSConfigError(ValueError):
    """A TLS option is unusable; str(e) is one line naming the file and why."""


def server_context(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """The listener's context from PEM files; TLSConfigError when one does not load."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TLSConfigError(f"cannot read {exc.filename or cert}: no such file") from None
    except (OSError, ssl.SSLError) as exc:
        raise TLSConfigError(f"--tls-cert {cert} / --tls-key {key} do not load as a PEM "
                             f"certificate and its private key ({_reason(exc)})") from None
    if client_ca:
        try:
            ctx.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"--tls-client-ca {client_ca} does not load as PEM "
                                 f"certificates ({_reason(exc)})") from None
        # Optional: drivers and the admin console have no client certificate;
        # one that is presented must chain to this CA or the handshake fails.
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def is_loopback(host: str) -> bool:
    """Does every address host names lie on loopback? ('' and 0.0.0.0 do not.)"""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False  # unresolvable: the listen itself will fail with its own error
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%", 1)[0]).is_loopback
                               for i in infos)


def check_listen(host: str, tls: bool, insecure: bool) -> None:
    """TLSConfigError for a plaintext listener off loopback without --insecure."""
    if tls or insecure or is_loopback(host):
        return
    raise TLSConfigError(f"refusing to listen on {host or '*'} without TLS: give --tls-cert "
                         "and --tls-key (see `evcharge pki`), or --insecure to send secrets "
                         "and billing in the clear")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
