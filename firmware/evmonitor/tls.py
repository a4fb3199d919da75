"""TLS to Central from the Monitor: its own few lines (firmware/ does not import hub/).

`ca` (a PEM file) turns TLS on: Central's certificate must chain to that CA and
be issued for the host in `central` (a DNS name or IP address in its
subjectAltName). `tls_cert`/`tls_key` add this CP's client certificate, for a
Central started with --tls-client-ca. Problems are ConfigError (one line).
"""
from __future__ import annotations

import ssl

from evmonitor.config import ConfigError, MonitorConfig


def client_context(cfg: MonitorConfig) -> ssl.SSLContext | None:
    """The verifying context for the link to Central, or None for plaintext."""
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        raise ConfigError("tls_cert and tls_key go together")
    if not cfg.ca:
        if cfg.tls_cert:
            raise ConfigError("tls_cert needs ca (the CA of Central's certificate)")
        return None
    # PROTOCOL_TLS_CLIENT: certificate and host name checked; only this CA trusted.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_verify_locations(cafile=cfg.ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"ca: {cfg.ca} does not load as PEM certificates "
                          f"({_reason(exc)})") from None
    if cfg.tls_cert:
        try:
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"tls_cert {cfg.tls_cert} / tls_key {cfg.tls_key} do not load "
                              f"as a PEM certificate and its key ({_reason(exc)})") from None
    return ctx


def describe(exc: BaseException) -> str:
    """Why a handshake failed, in a few words (a wrong CA says so)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or exc.reason
        return (f"TLS: certificate verify failed: {why} (is ca the CA that issued "
                "Central's certificate, for this address?)")
    return f"TLS: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
