"""The operator's actions on charge points, one implementation for every face:
the TCP manual_command (admin_handlers.py) and the web console / REST API
(evweb) both call these, so a stop or resume follows the same rules whichever
way the operator asked."""
from __future__ import annotations

from evcentral.config import Hub
from evcentral.driver_handlers import cp_map
from evcentral.registry import DEFAULT_STOP_REASON, ChargePoint
from evwire import make
from evwire import types as t
from evwire.compat import unix_time

# Why a CP is stopped (cps.stopped_by): resume-all reopens only the CPs its stop-all
# closed, so a CP an operator took out on its own (a damaged cable) stays out.
STOPPED_BY_OPERATOR = "operator"  # stop CP1, the web console's Stop
STOPPED_BY_STOP_ALL = "stop_all"


def stop_cp(hub: Hub, cp: ChargePoint, reason: str | None,
            by: str = STOPPED_BY_OPERATOR) -> str:
    """Out of service (stored, so it survives restarts); the live session is told and
    stopped by the CP. Returns the one-line result for the operator. Without a reason
    the CP keeps the one it was stopped with: a second `stop` must not wipe it."""
    reason = reason or cp.stop_reason or DEFAULT_STOP_REASON
    hub.db.set_cp_stopped(cp.cp_id, True, reason, by)
    cp.stopped, cp.stop_reason, cp.stopped_by = True, reason, by
    hub.sessions.tell_operator_stop(cp, reason)
    sent = hub.registry.send_to(cp, make(t.STOP_CP_COMMAND, cp_id=cp.cp_id, reason=reason,
                                         timestamp=unix_time()))
    hub.registry.note(cp, "operator stop")
    if sent:
        return f"{cp.cp_id} stopped"
    if cp.cp_id in hub.registry.remote:  # evcentral.cluster: its owner applies it
        return f"{cp.cp_id} stopped (Central {hub.registry.remote[cp.cp_id][0]} tells its Monitor)"
    return f"{cp.cp_id} stopped (not connected: told when its Monitor reconnects)"


def resume_cp(hub: Hub, cp: ChargePoint) -> str:
    hub.db.set_cp_stopped(cp.cp_id, False, None)
    cp.stopped, cp.stop_reason, cp.stopped_by = False, None, None
    sent = hub.registry.send_to(cp, make(t.RESUME_CP_COMMAND, cp_id=cp.cp_id,
                                         timestamp=unix_time()))
    hub.registry.note(cp, "operator resume")
    if not sent and cp.cp_id in hub.registry.remote:
        return f"{cp.cp_id} resumed (Central {hub.registry.remote[cp.cp_id][0]} tells its Monitor)"
    return f"{cp.cp_id} resumed" + ("" if sent else " (not connected)")


def stop_all(hub: Hub, reason: str | None) -> tuple[list[ChargePoint], str]:
    """Stop every CP in service; one already stopped keeps its own reason and origin (so
    resume-all leaves it stopped). Returns the CPs this stopped and the operator's line."""
    hub.registry.refresh()
    cps = [cp for _id, cp in sorted(hub.registry.cps.items())]
    stopped = [cp for cp in cps if not cp.stopped]
    for cp in stopped:
        stop_cp(hub, cp, reason, STOPPED_BY_STOP_ALL)
    kept = len(cps) - len(stopped)
    return stopped, f"{len(stopped)} charge point(s) stopped" + \
        (f" ({kept} already stopped, left as they were)" if kept else "")


def resume_all(hub: Hub) -> tuple[list[ChargePoint], str]:
    """Resume the CPs stop-all stopped, and only those: a CP stopped on its own (or one
    merely faulted) is left as it is. Returns the CPs resumed and the operator's line."""
    hub.registry.refresh()
    cps = [cp for _id, cp in sorted(hub.registry.cps.items()) if cp.stopped]
    resumed = [cp for cp in cps if cp.stopped_by == STOPPED_BY_STOP_ALL]
    for cp in resumed:
        resume_cp(hub, cp)
    kept = len(cps) - len(resumed)
    return resumed, f"{len(resumed)} charge point(s) resumed" + \
        (f" ({kept} stopped on their own, left stopped)" if kept else "")


def cp_row(hub: Hub, cp: ChargePoint) -> dict:
    """A CP as operators see it (list_cps): the driver's view plus stop, fault, session."""
    row = cp_map(hub, cp)
    row.update(stop_reason=cp.stop_reason, fault_type=cp.fault_type, session=None,
               protocol=cp.protocol)  # evwire (a Monitor) or ocpp (hub/evocpp)
    if hub.cluster is not None:  # several Centrals: the one its Monitor is connected to
        held = hub.registry.remote.get(cp.cp_id)
        row["central"] = hub.config.central_id if cp.connection is not None \
            else (held[0] if held is not None else None)
    if hub.sites is not None and cp.cp_id in hub.sites.site_of:
        row.update(site_id=hub.sites.site_of[cp.cp_id], limit_kw=hub.sites.limit_of(cp.cp_id))
    if cp.session is not None:
        s = cp.session
        row["session"] = {
            "session_id": s.session_id, "driver_id": s.driver_id, "status": s.status,
            "charging_rate": round(s.rate_kw, 2), "energy_consumed_kwh": round(s.energy_kwh, 3),
            "total_cost": round(s.cost, 2), "started_at": s.started_at,
            "waiting_for_vehicle": cp.waiting_for_vehicle == s.session_id,
        }
    return row


def site_rows(hub: Hub) -> list[dict]:
    """Each site's limit, its CPs' shares and the live total of measured power (admin
    `sites`, the web console)."""
    alloc = hub.sites
    if alloc is None:
        return []
    alloc.reload()  # a site just added with the CLI shows at once
    return [{"site_id": site.site_id, "max_kw": site.max_kw, "min_kw": site.min_kw,
             "live_kw": alloc.live_total(site.site_id),
             "limits": {cp_id: alloc.limits.get(cp_id, 0.0)
                        for cp_id, s in sorted(alloc.site_of.items()) if s == site.site_id}}
            for site in alloc.sites.values()]
