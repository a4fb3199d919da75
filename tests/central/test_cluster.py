"""Two Centrals on one PostgreSQL database share the consumer group: Kafka gives each
half of the partitions, so a session opened at A may have its telemetry read by B.
The database is the truth: each completion is billed once, whichever Central reads
it, and a request read from Kafka by the Central that does not hold the CP is routed
to the one that does (central-relay).

The CPs and drivers are picked so their records land in partition 0 and partition 5
(librdkafka's default partitioner: CRC-32 of the key): with two members, the range
assignor gives partitions 0-2 to one and 3-5 to the other, so each Central reads
one of them."""
from __future__ import annotations

import re
import zlib

import pytest
from central_testkit import CentralUnderTest, charging_data, completion

from evharness.procs import wait_until
from evwire import make
from evwire import types as t
from evwire.compat import unix_time

PARTITIONS = 6


def keyed_to(partition: int, prefix: str) -> str:
    return next(f"{prefix}{n}" for n in range(1, 10_000)
                if zlib.crc32(f"{prefix}{n}".encode()) % PARTITIONS == partition)


@pytest.fixture
def two_centrals(procs, tmp_path, kafka_bootstrap, kafka_ns, pg_database):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    a = CentralUnderTest(procs, a_dir, kafka_bootstrap, db=pg_database)
    b = CentralUnderTest(procs, b_dir, kafka_bootstrap, db=pg_database)
    return a, b


def test_telemetry_is_divided_and_each_session_billed_once(two_centrals, tap):
    a, b = two_centrals
    cps = [keyed_to(0, "CP"), keyed_to(5, "CP")]
    drivers = [keyed_to(0, "D"), keyed_to(5, "D")]
    a.provision(*cps).start()
    b.secrets = a.secrets
    b.start()
    for central in (a, b):  # the group has settled: each reads 3 of cp-events' 6
        wait_until(lambda c=central: re.search(r"cp-events \[\d, \d, \d\]", _assigned(c)),
                   timeout=40, what="half of the partitions each")

    sessions = {}
    for cp_id, driver_id in zip(cps, drivers):
        mon = a.monitor(cp_id).beat()
        client = a.driver(driver_id)
        reply = client.request(make(t.CHARGE_REQUEST, cp_id=cp_id, driver_id=driver_id,
                                    timestamp=unix_time()))
        client.close()
        assert reply["status"] == t.SUCCESS, reply
        mon.answer(mon.recv_type(t.START_CHARGING_COMMAND))
        mon.status, mon.session_id = t.CP_CHARGING, reply["session_id"]
        sessions[cp_id] = (reply["session_id"], driver_id, mon)

    # Stops asked by Kafka: whichever Central reads the request, A's Monitor is told.
    for cp_id, (session_id, driver_id, mon) in sessions.items():
        b.add_driver(driver_id)
        tap.driver_request(make(t.STOP_CHARGING_REQUEST, cp_id=cp_id, session_id=session_id,
                                driver_id=driver_id, timestamp=unix_time()))
        assert mon.recv_type(t.STOP_CHARGING_COMMAND, timeout=15)["session_id"] == session_id
        tap.wait_for(lambda k, m, d=driver_id: k == d and m["type"] == t.STOP_CHARGING_RESPONSE
                     and m["status"] == t.SUCCESS, timeout=15)
    assert b.log().count("routed to Central") == 1, "exactly one stop was read by B"

    for cp_id, (session_id, driver_id, _mon) in sessions.items():
        tap.cp_event(charging_data(cp_id, session_id, driver_id, 2.5))
        tap.wait_for(lambda k, m, s=session_id: m["type"] == t.CHARGING_STATUS_UPDATE
                     and m["session_id"] == s and m["energy_consumed_kwh"] == 2.5, timeout=15)
        done = completion(cp_id, session_id, driver_id, 3.0)
        tap.cp_event(done)
        tap.cp_event(dict(done, mac=None))  # the same completion again (re-signed)
    for session_id, _driver_id, _mon in sessions.values():
        wait_until(lambda s=session_id: a.session_row(s).get("ticket_sent") == 1, timeout=30,
                   what="ticket sent")
        row = a.session_row(session_id)
        assert row["finalised"] == 1 and row["energy_kwh"] == 3.0 and row["cost"] == 0.9
        tickets = tap.wait_for(lambda k, m, s=session_id: m["type"] == t.CHARGE_COMPLETION
                               and m["session_id"] == s, timeout=10)
        assert len(tickets) == 1, tickets
    billed_by_b = [s for s, _d, _m in sessions.values() if f"session {s} billed" in b.log()]
    assert len(billed_by_b) == 1, "B read one CP's partition, A the other's"
    # A's copies of the sessions B finalised end too: both CPs show their Monitor's state.
    for _s, _d, mon in sessions.values():
        mon.status, mon.session_id = t.CP_AVAILABLE, None
    wait_until(lambda: {r["cp_id"]: r["status"] for r in a.admin("list_cps")["data"]}
               == dict.fromkeys(cps, t.CP_AVAILABLE), timeout=10, what="both AVAILABLE at A")
    rows = {r["cp_id"]: r for r in b.admin("list_cps")["data"]}
    assert {rows[c]["central"] for c in cps} == {f"127.0.0.1:{a.port}"}


def _assigned(central: CentralUnderTest) -> str:
    lines = [line for line in central.log().splitlines() if "group partitions now" in line]
    return lines[-1] if lines else ""
