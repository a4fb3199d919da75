"""A cold standby on PostgreSQL: Central A dies (kill -9) while a CP charges; Central B,
on a second address, is started on the same database and Kafka. The Monitor and the
driver, given both addresses (--central A,B), move to B by themselves; the session
completes there, billed once, and the driver gets its one ticket."""
import time

import pytest
from e2ekit import session_id_of, unplug_and_check_billed_once, wait_charging

from evharness.procs import wait_until


@pytest.mark.parametrize("central_database", ["postgresql"], indirect=True)
def test_standby_central_on_the_same_postgresql_takes_over_a_charging_cp(make_network):
    net = make_network(cps=("CP1",), drivers=("D1",), standby_central=True)
    meter_before = net.meter_kwh("CP1")
    run = net.start_driver("D1", "--reconnect-grace", "300", "charge", "CP1")
    session_id = session_id_of(run)
    wait_charging(run)

    net.kill_central()
    started = time.monotonic()
    net.start_standby_central()
    net.wait_state("CP1", "CHARGING", timeout=30)
    took_over_s = time.monotonic() - started
    print(f"\nthe standby had CP1 CHARGING {took_over_s:.1f} s after the first Central died")
    wait_until(lambda: f"registered with Central at {net.central_address}"
               in net.procs["monitor-CP1"].log(), timeout=10, what="the Monitor on Central B")

    unplug_and_check_billed_once(net, "CP1", session_id, run, meter_before)
