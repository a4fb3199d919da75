"""StatusNotification -> the CP's state in Central's Registry (docs/OCPP.md, States).

One connector per charger is assumed (connector 0 stands for the whole
charger): the latest status of any connector is the CP's.
"""
from __future__ import annotations

from evcentral.config import Hub
from evwire import types as t
from evwire.trace import log

CHARGING = ("Charging", "SuspendedEV", "SuspendedEVSE")
AVAILABLE = ("Available", "Preparing", "Finishing", "Reserved")


def apply_status(hub: Hub, cp_id: str, connector_id: int, status: str, error_code: str,
                 extra: dict) -> None:
    cp = hub.registry.get(cp_id)
    if cp is None:
        return
    cp.unavailable = status == "Unavailable"
    if status == "Faulted":
        info = " ".join(str(extra[k]) for k in ("vendor_error_code", "info") if extra.get(k))
        fault = error_code + (f" ({info})" if info else "")
        cp.fault_type = fault[:120]
        hub.registry.report(cp, t.CP_FAULTED)
        hub.registry.note(cp, f"connector {connector_id} Faulted: {fault}")
        hub.sessions.interrupt(cp, fault)
        return
    if status in CHARGING:
        hub.registry.report(cp, t.CP_CHARGING)
    elif status in AVAILABLE:
        hub.registry.report(cp, t.CP_AVAILABLE)
    else:  # Unavailable: shown STOPPED (the ChargePoint's `unavailable`)
        hub.registry.note(cp, f"connector {connector_id} {status}")
    if error_code not in ("NoError", ""):
        log("warning", f"{cp_id}: connector {connector_id} {status} with {error_code}")
