"""Central believes only what it can verify (issue 14, points 2-4), against a real
`evcharge central` process and a real broker, records produced with evkafka's producer.

Every poison record (unsigned, signed with another CP's key, for another CP's
session, keyed wrongly, NaN / inf / negative / huge numbers, garbage bytes, an
unknown session) is billed never, reaches no driver, and is found in the
dead-letter topic and in `admin dead-letters`; a valid charge right behind them is
billed within 2 s; a restart re-sends nothing and sticks on nothing.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time

import pytest
from central_testkit import TEST_TIME_SCALE, charge_request, completion, secret_of

from evcentral import billing
from evharness.procs import bin_path, wait_until
from evkafka import names
from evkafka.client import AssignedConsumer
from evwire import dumps, loads, make
from evwire import types as t
from evwire.auth import sign_record
from evwire.compat import unix_time
from evwire.schema import validate


class DeadLetterTap:
    """Every record of the dead-letter topic, decoded."""

    def __init__(self, bootstrap: str):
        self.consumer = AssignedConsumer(bootstrap, names.namespace() + "dead-letter-tap",
                                         [names.dead_letter()])
        self.letters: list[dict] = []
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._consume, daemon=True)
        self.thread.start()

    def _consume(self) -> None:
        while not self._stop.is_set():
            for rec in self.consumer.consume(100, timeout=0.2):
                with self.cond:
                    self.letters.append(loads(rec.value()))
                    self.cond.notify_all()

    def wait_count(self, count: int, timeout: float = 15.0) -> list[dict]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.letters) >= count, timeout):
                raise TimeoutError(f"{count} dead letters not seen: "
                                   f"{[d.get('reason') for d in self.letters]}")
            return list(self.letters)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.consumer.close()


@pytest.fixture
def dead(kafka_bootstrap, kafka_ns):
    letters = DeadLetterTap(kafka_bootstrap)
    yield letters
    letters.close()


def _start(central, mon, driver_id: str) -> str:
    driver = central.driver(driver_id)
    reply = driver.request(charge_request(mon.cp_id, driver_id))
    driver.close()
    assert reply["status"] == t.SUCCESS, reply
    mon.answer(mon.recv_type(t.START_CHARGING_COMMAND))
    mon.status, mon.session_id = t.CP_CHARGING, reply["session_id"]
    return reply["session_id"]


def _tickets(tap, session_id: str) -> list[dict]:
    return [m for _k, m in tap.matching(lambda k, m: m["type"] == t.CHARGE_COMPLETION
                                        and m.get("session_id") == session_id)]


def _settled(tap, driver_id: str) -> None:
    """An answer to a later request of this driver: what Central sent before is visible."""
    marker = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id=driver_id,
                                     timestamp=unix_time()))
    tap.wait_for(lambda k, m: m.get("message_id") == marker["message_id"], timeout=15)


def _charging_data(cp_id: str, session_id: str, driver_id: str, **numbers) -> dict:
    fields = dict(energy_consumed_kwh=1.0, total_cost=0.3, charging_rate=11.0)
    fields.update(numbers)
    return make(t.CHARGING_DATA, cp_id=cp_id, session_id=session_id, driver_id=driver_id,
                timestamp=unix_time(), **fields)


def _poison(tap, s1: str, s2: str) -> list[bytes]:
    """Produce every kind of poison record; return their raw values."""
    sent: list[bytes] = []

    def cp_event(msg: dict, **kw) -> None:
        sent.append(dumps(tap.cp_event(msg, **kw)))

    cp_event(completion("CP1", s1, "D1", 1.0), sign=False)  # unsigned
    cp_event(completion("CP1", s1, "D1", 1.0), secret=secret_of("CP2"))  # another CP's key
    cp_event(completion("CP2", s1, "D1", 1.0))  # CP2, rightly signed, bills CP1's session
    cp_event(completion("CP1", s1, "D1", 1.0), key="CP2")  # key is not its cp_id
    cp_event(completion("CP1", "no-such-session", "D1", 1.0))  # unknown session
    for value in (float("nan"), float("inf"), -5.0, 1e12):  # signed, but not a number to bill
        bad = completion("CP1", s1, "D1", 1.0)
        bad["energy_consumed_kwh"] = value
        raw = dumps(sign_record(bad, secret_of("CP1")))  # raw CBOR: NaN is f97e00
        tap.produce_raw(names.cp_events(), b"CP1", raw)
        sent.append(raw)
    nan_data = _charging_data("CP2", s2, "D2", total_cost=float("nan"))
    cp_event(nan_data)
    inf_rate = _charging_data("CP2", s2, "D2", charging_rate=float("-inf"))
    cp_event(inf_rate)
    garbage = b"\xff\x00 not CBOR at all \x9f\x9f"
    tap.produce_raw(names.cp_events(), b"CP1", garbage)
    sent.append(garbage)
    tap.produce_raw(names.cp_events(), None, b"")  # empty, without a key
    sent.append(b"")
    return sent


def _message_id(raw: bytes) -> str | None:
    try:
        return loads(raw)["message_id"]
    except Exception:  # garbage: no id
        return None


def test_poison_records_cost_one_record_each(central, tap, dead):
    mon1 = central.monitor("CP1").beat()
    mon2 = central.monitor("CP2").beat()
    s1 = _start(central, mon1, "D1")
    s2 = _start(central, mon2, "D2")

    sent = _poison(tap, s1, s2)
    letters = dead.wait_count(len(sent))
    assert len(letters) == len(sent)
    assert sorted(d["value"] for d in letters) == sorted(sent)
    assert {d["source_topic"] for d in letters} == {names.cp_events()}
    for letter in letters:
        validate(letter)  # a catalogue message like any other
    reasons = " | ".join(d["reason"] for d in letters)
    for why in ("unsigned", "bad mac", "belongs to another charge point", "key mismatch",
                "unknown session", "undecodable"):
        assert why in reasons, reasons

    # A valid charge right behind them is billed within 2 s.
    produced = time.monotonic()
    tap.cp_event(completion("CP1", s1, "D1", 2.0))
    ticket = tap.wait_for(lambda k, m: m["type"] == t.CHARGE_COMPLETION
                          and m["session_id"] == s1, timeout=2.0)[0]
    assert time.monotonic() - produced < 2.0
    assert ticket[0] == "D1" and ticket[1]["total_cost"] == 0.6 and "mac" not in ticket[1]

    _settled(tap, "D1")
    _settled(tap, "D2")
    # None billed, none reached a driver: one ticket (the valid one), no poison forwarded.
    assert len(_tickets(tap, s1)) == 1 and _tickets(tap, s2) == []
    poison_ids = {_message_id(v) for v in sent} - {None}
    assert len(poison_ids) == len(sent) - 2  # all but the garbage and the empty record
    assert tap.matching(lambda k, m: m.get("message_id") in poison_ids) == []
    assert tap.matching(lambda k, m: m["type"] == t.CHARGING_STATUS_UPDATE) == []
    assert central.session_row(s1)["energy_kwh"] == 2.0
    assert central.session_row(s2)["finalised"] == 0

    listed = central.admin("dead_letters")["data"]
    assert len(listed) == len(sent)
    assert {d["source_offset"] for d in listed} == {d["source_offset"] for d in letters}
    cli = subprocess.run([bin_path("evcharge"), "admin", "--central",
                          f"{central.host}:{central.port}", "dead-letters"],
                         env={**os.environ, "EVCHARGE_ADMIN_TOKEN": central.token},
                         capture_output=True, text=True, timeout=30)
    assert cli.returncode == 0, cli.stderr
    assert "unsigned" in cli.stdout and names.cp_events() in cli.stdout

    # Restart: nothing stuck, nothing re-sent (no dead letter twice, no second ticket).
    assert central.proc.terminate() == 0
    mon1.close()
    mon2.close()
    central.start()
    _settled(tap, "D1")
    later = central.monitor("CP1").beat()
    s3 = _start(central, later, "D3")
    tap.cp_event(completion("CP1", s3, "D3", 1.0))
    tap.wait_for(lambda k, m: m["type"] == t.CHARGE_COMPLETION and m["session_id"] == s3)
    assert len(dead.letters) == len(sent)
    assert len(central.admin("dead_letters")["data"]) == len(sent)
    assert len(_tickets(tap, s1)) == 1
    assert "dead letter" not in central.log()
    later.close()


def test_driver_requests_must_be_signed_by_their_driver(central, tap, dead):
    central.add_driver("D5")
    unsigned = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D5",
                                       timestamp=unix_time()), sign=False)
    forged = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D5",
                                     timestamp=unix_time()), secret="guessed")
    stranger = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D404",
                                       timestamp=unix_time()))
    letters = dead.wait_count(3)
    assert [d["source_topic"] for d in letters] == [names.driver_requests()] * 3
    by_key = sorted((d["key"], d["reason"].split(":")[0]) for d in letters)  # any partition order
    assert by_key == [("D404", "bad mac"), ("D5", "bad mac"), ("D5", "unsigned")]
    signed = tap.driver_request(make(t.AVAILABLE_CPS_REQUEST, driver_id="D5",
                                     timestamp=unix_time()))
    tap.wait_for(lambda k, m: m.get("message_id") == signed["message_id"])
    ids = {unsigned["message_id"], forged["message_id"], stranger["message_id"]}
    assert tap.matching(lambda k, m: m.get("message_id") in ids) == [], "no answer to forgeries"


def test_central_bills_its_own_price_and_disputes_impossible_energy(central_factory, tap):
    # Real time here (--time-scale 1): 22 kW for a few seconds allows well under 1 kWh.
    central = central_factory("CP1", args=("--time-scale", "1"))
    mon = central.monitor("CP1").beat()
    s1 = _start(central, mon, "D1")
    claimed = completion("CP1", s1, "D1", 0.1)
    claimed["total_cost"] = 9.99  # the CP's own arithmetic: not what Central bills
    tap.cp_event(claimed)
    ticket = tap.wait_for(lambda k, m: m["type"] == t.CHARGE_COMPLETION
                          and m["session_id"] == s1)[0][1]
    assert ticket["total_cost"] == 0.03 and ticket["reason"] == t.REASON_EV_FULL
    row = central.session_row(s1)
    assert row["status"] == "completed" and row["cost"] == 0.03 and row["cp_cost"] == 9.99
    driver = central.driver("D1")
    history = driver.request(make(t.SESSION_HISTORY_REQUEST, driver_id="D1",
                                  timestamp=unix_time()))
    driver.close()
    assert history["sessions"][0]["total_cost"] == 0.03
    assert history["sessions"][0]["cp_cost"] == 9.99

    mon.status, mon.session_id = t.CP_AVAILABLE, None
    wait_until(lambda: central.cp_status("CP1") == t.CP_AVAILABLE, what="CP1 free again")
    s2 = _start(central, mon, "D1")
    greedy = completion("CP1", s2, "D1", 50.0)
    tap.cp_event(greedy)
    tap.cp_event(greedy)  # redelivered: still one ticket
    ticket = tap.wait_for(lambda k, m: m["type"] == t.CHARGE_COMPLETION
                          and m["session_id"] == s2)[0][1]
    assert ticket["reason"] == "disputed" and ticket["total_cost"] == 0.0
    assert ticket["energy_consumed_kwh"] == 50.0
    _settled(tap, "D1")
    assert len(_tickets(tap, s2)) == 1
    listed = {s["session_id"]: s for s in central.admin("list_sessions")["data"]}
    assert listed[s2]["status"] == "disputed" and listed[s2]["total_cost"] == 0.0
    assert listed[s2]["cp_cost"] == 15.0 and "allows at most" in listed[s2]["dispute_reason"]
    assert listed[s1]["status"] == "completed" and listed[s1]["cp_cost"] == 9.99
    assert "disputed, not billed" in central.log()
    mon.close()


def test_energy_check_and_cost_arithmetic():
    assert billing.central_cost(7.5, 0.30) == 2.25
    assert billing.energy_dispute(0.2, 22.0, 5) is None  # 22 kW x 35 s x 1.1 + 0.05
    assert billing.energy_dispute(0.3, 22.0, 5) is not None
    assert billing.energy_dispute(11.0, 11.0, 3600) is None  # one hour at full power
    assert billing.energy_dispute(14.0, 11.0, 3600) is not None
    assert billing.energy_dispute(50.0, 22.0, 5, TEST_TIME_SCALE) is None  # simulated hours
    assert billing.cost_difference(2.25, 2.25) is None
    assert billing.cost_difference(2.26, 2.25) == 0.01


def test_a_busy_database_is_retried_without_publishing_twice(central_factory, tap):
    """A transient failure (database locked) is retried with back-off; the charging_data
    forwarded before it is not forwarded again, the completion is billed once."""
    central = central_factory("CP1", heartbeat_timeout=120)  # no heartbeats while locked
    mon = central.monitor("CP1")
    s1 = _start(central, mon, "D1")
    wait_until(lambda: central.session_row(s1).get("status") == "active", what="active")
    locker = sqlite3.connect(central.db_path, timeout=1.0, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # every writer waits, Central's 10 s busy wait too
    try:
        data = tap.cp_event(_charging_data("CP1", s1, "D1"))
        tap.cp_event(completion("CP1", s1, "D1", 1.5))
        tap.wait_for(lambda k, m: m.get("message_id") == data["message_id"])
        wait_until(lambda: "retrying in" in central.log(), timeout=30, what="a retry")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    tap.wait_for(lambda k, m: m["type"] == t.CHARGE_COMPLETION and m["session_id"] == s1,
                 timeout=30)
    _settled(tap, "D1")
    assert len(tap.matching(lambda k, m: m.get("message_id") == data["message_id"])) == 1
    assert len(tap.matching(lambda k, m: m["type"] == t.CHARGING_STATUS_UPDATE)) == 1
    assert len(_tickets(tap, s1)) == 1
    row = central.session_row(s1)
    assert row["finalised"] == 1 and row["energy_kwh"] == 1.5 and row["cost"] == 0.45
    assert "dead letter" not in central.log()
    mon.close()


def test_centrals_fast_mac_is_the_shared_signing_rule():
    from evcentral import record_check
    from evwire import auth

    msg = completion("CP1", "S1", "D1", 7.5)
    msg["meter_start_kwh"] = float("nan")  # any value CBOR can carry
    assert record_check.record_mac("s3cret", msg) == auth.record_mac("s3cret", msg)
    signed = auth.sign_record(dict(msg), "s3cret")
    assert record_check.record_verifies(signed, "s3cret")
    assert auth.record_verifies(signed, "s3cret")
    assert not record_check.record_verifies(signed, "other")
    assert not record_check.record_verifies({**signed, "mac": signed["mac"].upper()}, "s3cret")
    assert not record_check.record_verifies({**signed, "mac": "é" * 64}, "s3cret")
    assert not record_check.record_verifies({**signed, "energy_consumed_kwh": 7.6}, "s3cret")


class _Sessions:
    """Stands in for Sessions: the faults below (a handler bug, a busy database at one
    exact record) cannot be provoked in a real Central from outside."""

    def __init__(self, faults: dict[str, list[Exception]]):
        self.faults = faults
        self.handled: list[str] = []
        self.tickets_due: dict = {}
        self.store = type("Store", (), {"mark_tickets_sent": lambda self, ids: None})()

    def get(self, session_id: str):
        return type("S", (), {"cp_id": "CP1", "session_id": session_id})()

    def charging_data(self, msg: dict, raw: bytes) -> list:
        if self.faults.get(msg["session_id"]):
            raise self.faults[msg["session_id"]].pop(0)
        self.handled.append(msg["message_id"])
        return []

    def flush_live(self) -> None:
        """Nothing to store."""


def test_a_handler_failure_costs_that_record_and_a_transient_one_retries_the_rest(tmp_path):
    import asyncio
    from types import SimpleNamespace

    from evcentral.db import Database
    from evcentral.kafka_records import KafkaRecords
    from evcentral.telemetry import Record

    db = Database(tmp_path / "central.db")
    db.add_cp("CP1", secret_of("CP1"), "", 22.0, None)
    sessions = _Sessions({"S-bug": [RuntimeError("boom")],
                          "S-busy": [sqlite3.OperationalError("database is locked")]})

    async def run() -> tuple[list[str], Exception | None]:
        loop = asyncio.get_running_loop()

        def publish(topic: str, key: str, value: bytes) -> asyncio.Future:
            done = loop.create_future()
            done.set_result(None)
            return done

        hub = SimpleNamespace(db=db, sessions=sessions)
        records = KafkaRecords(hub, None, SimpleNamespace(publish=publish))
        batch = []
        for offset, session_id in enumerate(("S-ok", "S-bug", "S-busy", "S-after")):
            msg = sign_record(_charging_data("CP1", session_id, "D1"), secret_of("CP1"))
            batch.append(Record(names.cp_events(), 0, offset, b"CP1", dumps(msg)))
        try:
            await records.handle_batch(batch)
            first = None
        except sqlite3.OperationalError as exc:  # transient: the bridge retries the batch
            first = exc
        await records.handle_batch(batch)  # the retry: S-ok and S-bug are not handled again
        return [loads(r.value)["message_id"] for r in batch], first

    ids, first = asyncio.run(run())
    assert first is not None
    assert sessions.handled == [ids[0], ids[2], ids[3]]  # each once, the bug's record not
    rows = db.conn.execute("SELECT reason, source_offset FROM dead_letters").fetchall()
    assert [(r["reason"], r["source_offset"]) for r in rows] == [
        ("handler failed: RuntimeError: boom", 1)]
    db.close()
