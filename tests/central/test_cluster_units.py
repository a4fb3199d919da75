"""Pieces of several-Centrals mode (evcentral.leases, evcentral.relay), on SQLite: the
same SQL runs on PostgreSQL in tests/e2e/test_two_centrals.py."""
import asyncio
import time

from evcentral.db import Database
from evcentral.leases import LeaseStore
from evcentral.relay import REPLY, REQUEST, Relay, seal, unseal
from evwire import dumps, make, validate
from evwire import types as t

KEY = b"k" * 32


def test_a_lease_is_taken_by_the_central_the_monitor_connects_to(tmp_path):
    db = Database(tmp_path / "c.db")
    a, b = LeaseStore(db, "A"), LeaseStore(db, "B")
    a.take("CP1", "AVAILABLE")
    assert b.owner_of("CP1").owner == "A" and set(b.others()) == {"CP1"}
    a.set_state("CP1", "CHARGING")
    assert b.others()["CP1"].state == "CHARGING"
    b.take("CP1", "CHARGING")  # the Monitor moved to B
    assert a.renew({"CP1"}) == {"CP1"}  # A learns it lost CP1
    a.set_state("CP1", "DISCONNECTED")  # A's late word changes nothing
    a.release("CP1")
    assert a.owner_of("CP1").owner == "B" and a.others()["CP1"].state == "CHARGING"


def test_a_lease_not_renewed_expires(tmp_path):
    db = Database(tmp_path / "c.db")
    a = LeaseStore(db, "A", ttl=0.2)
    a.take("CP1", "AVAILABLE")
    assert LeaseStore(db, "B").owner_of("CP1") is not None
    time.sleep(0.3)
    assert LeaseStore(db, "B").owner_of("CP1") is None and LeaseStore(db, "B").others() == {}
    a.renew({"CP1"})
    assert LeaseStore(db, "B").owner_of("CP1").owner == "A"


def test_relay_records_verify_only_under_the_cluster_key():
    sealed = seal(KEY, {"kind": REQUEST, "to": "B"})
    assert unseal(KEY, sealed) == {"kind": REQUEST, "to": "B"}
    assert unseal(b"x" * 32, sealed) is None
    assert unseal(KEY, dumps({"body": dumps({"kind": REQUEST}), "mac": "00"})) is None
    assert unseal(KEY, b"\xff not cbor") is None


class _Channel:
    role = "driver"
    driver_id = "D1"
    origin = "socket"
    peer = "10.0.0.9:5555"


def test_a_routed_request_is_answered_by_its_owner_and_forged_ones_are_dropped():
    async def scenario():
        records: dict[str, list[bytes]] = {"A": [], "B": []}
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)

        def publish_from(_sender):
            def publish(key, value):
                records[key].append(value)
                return done
            return publish

        asker = Relay("B", KEY, publish_from("B"), lambda *_a: done)
        owner = Relay("A", KEY, publish_from("A"), lambda *_a: done)
        seen = []

        async def dispatch(msg, channel):
            seen.append((msg, channel.driver_id, channel.relayed))
            channel.send(make(t.CHARGE_REQUEST_RESPONSE, msg["message_id"], status=t.SUCCESS))

        owner.dispatch = dispatch
        request = make(t.CHARGE_REQUEST, cp_id="CP1", driver_id="D1", token="never sent")
        asking = asyncio.ensure_future(asker.forward(request, _Channel(), "A"))
        await asyncio.sleep(0)
        owner.received(records["A"].pop())
        await asyncio.sleep(0)
        assert seen and seen[0][1:] == ("D1", True) and "token" not in seen[0][0]
        asker.received(records["B"].pop())
        reply = await asking
        assert reply["status"] == t.SUCCESS and reply["message_id"] == request["message_id"]

        forged = seal(b"z" * 32, {"kind": REQUEST, "to": "A", "sent": time.time(),
                                  "role": "admin", "msg": request, "corr": "x", "from": "B"})
        owner.received(forged)
        stale = seal(KEY, {"kind": REPLY, "to": "B", "sent": time.time() - 60, "corr": "x",
                           "msg": {}})
        asker.received(stale)
        await asyncio.sleep(0)
        assert len(seen) == 1

    asyncio.run(scenario())


def test_a_request_its_owner_cannot_take_gets_a_valid_refusal():
    async def scenario():
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(RuntimeError("broker away"))
        asker = Relay("B", KEY, lambda _key, _value: failed, lambda *_a: failed)
        for request in (make(t.CHARGE_REQUEST, cp_id="CP1", driver_id="D1",
                             timestamp=1800000000),
                        make(t.STOP_CHARGING_REQUEST, cp_id="CP1", session_id="S1",
                             driver_id="D1", timestamp=1800000000)):
            reply = await asker.forward(request, _Channel(), "A")
            validate(reply)  # a charge_request_response names its (null) session_id
            assert reply["status"] == t.FAILURE and reply["reason"] == "owner_unreachable"

    asyncio.run(scenario())
