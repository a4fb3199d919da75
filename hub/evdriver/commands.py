"""The driver's commands: list, charge, stop, history, watch (run: services.py).

Each takes the opened DriverContext and the parsed arguments and returns the
exit code; failures raise the typed errors of errors.py (evhost.cliout's).
"""
from __future__ import annotations

import argparse
import time

from evdriver.answers import check_answer
from evdriver.context import DriverContext
from evdriver.errors import EXIT_OK, Refused, RequestFailed
from evdriver.session import Limits, SessionFollower, charge_once
from evwire import make_timestamped
from evwire import types as t

# Session states (Central's) in which a session can still be stopped.
RUNNING_STATES = ("starting", "active", "interrupted")
WATCH_POLL_S = 1.0  # how often `watch` asks Central whether a session of mine started


def cmd_list(ctx: DriverContext, args: argparse.Namespace) -> int:
    request = make_timestamped(t.AVAILABLE_CPS_REQUEST, driver_id=ctx.driver_id)
    answer = check_answer(ctx.request(request), t.AVAILABLE_CPS_RESPONSE)
    ctx.output.charge_points(answer["charging_points"])
    return EXIT_OK


def cmd_charge(ctx: DriverContext, args: argparse.Namespace) -> int:
    result = charge_once(ctx, args.cp_id, Limits(args.kwh, args.minutes))
    if not result.ok:
        if result.refused:  # Central said no: nothing was started
            raise Refused(f"{args.cp_id}: refused: {result.refusal}")
        # Accepted, but the charge point failed to start (its ticket was shown).
        raise RequestFailed(f"{args.cp_id}: {result.refusal}")
    ctx.output.result({"result": "ok", **result.as_dict()})
    return EXIT_OK


def cmd_history(ctx: DriverContext, args: argparse.Namespace) -> int:
    ctx.output.history(fetch_sessions(ctx, args.limit))
    return EXIT_OK


def cmd_stop(ctx: DriverContext, args: argparse.Namespace) -> int:
    running = [s for s in fetch_sessions(ctx, None)
               if str(s.get("status", "")).lower() in RUNNING_STATES]
    if not running:
        raise RequestFailed("you have no running session")
    stopped = []
    for session in running:
        request = make_timestamped(t.STOP_CHARGING_REQUEST, cp_id=session["cp_id"],
                                   session_id=session["session_id"], driver_id=ctx.driver_id)
        check_answer(ctx.request(request), t.STOP_CHARGING_RESPONSE)
        ctx.output.status("stopping", session["cp_id"], session["session_id"],
                          f"stop requested for session {session['session_id']}")
        stopped.append(session)
    tickets = []
    if args.no_wait or ctx.stream is None:
        if ctx.stream is None and not args.no_wait:
            ctx.output.notice("the ticket is shown by the driver that follows the session "
                              "(or the next time the driver starts)")
    else:
        for session in stopped:
            follower = SessionFollower(ctx, session["cp_id"], session["session_id"], Limits(),
                                       stop_already_sent=True)
            tickets.append(follower.follow().as_dict()["ticket"])
    ctx.output.result({"result": "ok", "stopped": [s["session_id"] for s in stopped],
                       "tickets": tickets})
    return EXIT_OK


def cmd_watch(ctx: DriverContext, args: argparse.Namespace) -> int:
    """Follow my session started elsewhere (a card or the menu at a charge point):
    the running one, or the next one to start; live data, then the ticket."""
    deadline = None if args.wait is None else time.monotonic() + args.wait
    announced = False
    while True:
        running = [s for s in fetch_sessions(ctx, None)
                   if str(s.get("status", "")).lower() in RUNNING_STATES]
        if running:
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise RequestFailed(f"no session of {ctx.driver_id} started within {args.wait:g} s")
        if not announced:
            announced = True
            ctx.output.notice(f"waiting for a session of {ctx.driver_id} to start (swipe your "
                              "card or use the menu at a charge point; Ctrl-C to leave)")
        time.sleep(WATCH_POLL_S)
    session = running[0]  # Central allows one running session per driver
    ctx.output.status("watching", session["cp_id"], session["session_id"],
                      f"following session {session['session_id']} at {session['cp_id']}")
    result = SessionFollower(ctx, session["cp_id"], session["session_id"],
                             Limits(args.kwh, args.minutes)).follow()
    ctx.output.result({"result": "ok", **result.as_dict()})
    return EXIT_OK


def fetch_sessions(ctx: DriverContext, limit: int | None) -> list[dict]:
    fields = {"driver_id": ctx.driver_id}
    if limit is not None:
        fields["limit"] = limit
    request = make_timestamped(t.SESSION_HISTORY_REQUEST, **fields)
    answer = check_answer(ctx.request(request), t.SESSION_HISTORY_RESPONSE)
    return [s for s in answer["sessions"] if isinstance(s, dict)]
