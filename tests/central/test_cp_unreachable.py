"""The driver of a live session is told when its CP's Monitor loses contact with Central
(its link closed, or silent past --heartbeat-timeout), once; and not when it is Central
that closes the links (a shutdown is no CP lost)."""
from __future__ import annotations

import os
import signal

from central_testkit import charge_request

from evharness.procs import wait_until
from evkafka import names
from evwire import make
from evwire import types as t
from evwire.compat import unix_time

UNREACHABLE_TEXT = ("the charge point's Monitor lost contact with Central: the session goes "
                    "on at the charge point; its ticket follows")


def _live_session(central, mon) -> str:
    driver = central.driver("D1")
    reply = driver.request(charge_request("CP1", "D1"))
    assert reply["status"] == t.SUCCESS, reply
    command = mon.recv_type(t.START_CHARGING_COMMAND)
    mon.answer(command)
    mon.status, mon.session_id = t.CP_CHARGING, command["session_id"]
    wait_until(lambda: central.cp_status("CP1") == t.CP_CHARGING, what="CP1 CHARGING")
    driver.close()
    return reply["session_id"]


def _unreachable(tap, session_id: str) -> list[dict]:
    return [m for k, m in tap.matching(
        lambda k, m: k == "D1" and m["type"] == t.CHARGING_STATUS_UPDATE
        and m.get("session_id") == session_id and m["status"] == "cp_unreachable")]


def _all_read(tap) -> None:
    """A record of our own after Central's on D1's partition: once the tap has it,
    the tap has read everything Central published to D1 before it."""
    marker = tap.produce(names.driver_events(), "D1", make(
        t.AVAILABLE_CPS_REQUEST, driver_id="D1", timestamp=unix_time()))
    tap.wait_for(lambda k, m: m.get("message_id") == marker["message_id"])


def test_the_driver_is_told_once_when_the_monitor_goes_and_when_it_falls_silent(
        central_factory, tap):
    central = central_factory("CP1", heartbeat_timeout=1.0)
    mon = central.monitor("CP1").beat()
    session_id = _live_session(central, mon)

    mon.close()  # the link closes: DISCONNECTED at once
    (update,) = [m for _k, m in tap.wait_for(
        lambda k, m: k == "D1" and m.get("status") == "cp_unreachable")]
    assert update["session_id"] == session_id and update["cp_id"] == "CP1"
    assert update["message"] == UNREACHABLE_TEXT

    mon = central.monitor("CP1")  # back, then silent with its link open
    mon.session_id, mon.status = session_id, t.CP_CHARGING
    mon.beat()
    wait_until(lambda: central.cp_status("CP1") == t.CP_CHARGING, what="CP1 back")
    mon.stop_beating()
    wait_until(lambda: len(_unreachable(tap, session_id)) >= 2, timeout=10,
               what="the driver told of the silent Monitor")
    _all_read(tap)
    assert len(_unreachable(tap, session_id)) == 2  # one per loss, not one per watchdog turn
    mon.close()


def test_central_shutting_down_does_not_tell_drivers_their_cp_is_lost(central_factory, tap):
    central = central_factory("CP1")
    mon = central.monitor("CP1").beat()
    session_id = _live_session(central, mon)

    os.kill(central.proc.pid, signal.SIGTERM)  # Central closes the Monitor's link itself
    assert central.proc.popen.wait(15) == 0, central.log()
    _all_read(tap)  # Central flushed what it produced before it exited
    assert _unreachable(tap, session_id) == []
    mon.close()
