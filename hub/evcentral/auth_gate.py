"""Where every auth_request (a Monitor's or a Driver's) is judged: slowed down
when its address or id failed recently, verified, and, when refused, counted
and written to the audit trail.

The wait comes before the answer, whatever the answer will be: a guesser
cannot skip it by giving up early, and the 100th wrong guess in a minute waits
the throttle's longest delay rather than being answered at once.
"""
from __future__ import annotations

import asyncio

from evcentral.auth import AuthFailure, bad_credentials
from evcentral.config import Hub
from evcentral.registry import Channel
from evwire.trace import log


def address_of(channel: Channel) -> str:
    """The peer's host without the port: the throttle's and the audit trail's address."""
    peer = str(getattr(channel, "peer", "") or "unknown")
    host, sep, _port = peer.rpartition(":")
    return host if sep else peer


def check_certificate(kind: str, peer_id: str, channel: Channel) -> None:
    """A Monitor that presented a TLS client certificate may speak only for the CP the
    certificate names: a stolen certificate of CP7 plus CP1's secret is still CP7."""
    names = getattr(channel, "cert_names", None)
    if kind == "cp" and names is not None and peer_id not in names:
        raise bad_credentials(f"client certificate names {', '.join(sorted(names)) or 'nobody'},"
                               f" not {peer_id}")


async def authenticate(hub: Hub, kind: str, peer_id: str, msg: dict, channel: Channel) -> str:
    """The verified id of kind "cp" or "driver"; AuthFailure (already counted and
    audited) otherwise."""
    address = address_of(channel)
    keys = (f"addr:{address}", f"{kind}:{peer_id}")
    wait = hub.throttle.delay(*keys)
    if wait > 0:
        await asyncio.sleep(wait)
    try:
        verified = hub.authenticator.verify_peer(kind, peer_id, msg)
        check_certificate(kind, verified, channel)
    except AuthFailure as denial:
        hub.throttle.failed(*keys)
        log("warning", f"auth of {kind} {peer_id!r} from {address} refused ({denial.detail})"
                       + (f" after waiting {wait:.2f} s" if wait else ""))
        hub.audit.record(address, f"{kind}:{peer_id}", "auth", "refused", denial.detail)
        raise
    hub.throttle.succeeded(keys[1])  # the id proved itself; the address keeps its count
    return verified
