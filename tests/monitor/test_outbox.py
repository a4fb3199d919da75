"""The SQLite outbox: order, de-duplication, durability across reopen, thinning rules."""
from __future__ import annotations

import pytest

from evmonitor.outbox import Outbox, OutboxError
from evwire import dumps, make
from evwire import types as t


def sample(session_id: str, n: int) -> dict:
    return make(t.CHARGING_DATA, cp_id="CP1", session_id=session_id, energy_consumed_kwh=n / 1000,
                total_cost=0.0, charging_rate=11.0, timestamp=1700000000 + n)


def completion(session_id: str) -> dict:
    return make(t.CHARGE_COMPLETION, cp_id="CP1", session_id=session_id,
                energy_consumed_kwh=1.0, total_cost=0.3)


def put(box: Outbox, msg: dict) -> bool:
    return box.add(msg, dumps(msg))


def test_rows_come_back_in_arrival_order_with_their_exact_bytes(tmp_path):
    box = Outbox(str(tmp_path / "o.db"))
    msgs = [sample("S1", i) for i in range(5)] + [completion("S1")]
    for msg in msgs:
        assert put(box, msg)
    rows = box.after(0, 100)
    assert [r.message_id for r in rows] == [m["message_id"] for m in msgs]
    assert [r.payload for r in rows] == [dumps(m) for m in msgs]
    assert box.after(rows[2].seq, 2) == rows[3:5]
    assert box.depth == 6


def test_the_same_message_twice_is_stored_once(tmp_path):
    box = Outbox(str(tmp_path / "o.db"))
    done = completion("S1")
    assert put(box, done)
    assert not put(box, done)  # the Engine re-sent it before our ack arrived
    assert box.depth == 1


def test_rows_survive_a_reopen_and_delete_removes_exactly_the_confirmed(tmp_path):
    path = str(tmp_path / "o.db")
    box = Outbox(path)
    msgs = [sample("S1", i) for i in range(4)]
    for msg in msgs:
        put(box, msg)
    box.close()
    box = Outbox(path)
    assert box.depth == 4
    rows = box.after(0, 10)
    box.delete([rows[0].seq, rows[2].seq])
    assert [r.message_id for r in box.after(0, 10)] == [msgs[1]["message_id"],
                                                         msgs[3]["message_id"]]
    assert box.depth == 2


def test_thinning_keeps_every_completion_the_newest_sample_and_every_tenth(tmp_path):
    box = Outbox(str(tmp_path / "o.db"), bound=50, keep_every=10)
    s1_ids, completions = [], []
    for i in range(120):
        msg = sample("S1", i)
        s1_ids.append(msg["message_id"])
        put(box, msg)
        if i % 40 == 39:
            done = completion(f"S-old-{i}")
            completions.append(done["message_id"])
            put(box, done)
    s2_ids = []
    for i in range(30):
        msg = sample("S2", i)
        s2_ids.append(msg["message_id"])
        put(box, msg)
    removed = box.thin()
    rows = box.after(0, 1000)
    assert box.depth == len(rows) == 120 + 3 + 30 - removed
    kept = [r.message_id for r in rows]
    assert [m for m in kept if m in completions] == completions  # all, in order
    # Per session, newest first: rank 1 kept, then every 10th (ranks 11, 21, ...).
    assert [m for m in kept if m in s1_ids] == [s1_ids[i] for i in range(9, 120, 10)]
    assert [m for m in kept if m in s2_ids] == [s2_ids[i] for i in range(9, 30, 10)]
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)


def test_thinning_never_touches_rows_already_handed_to_kafka(tmp_path):
    box = Outbox(str(tmp_path / "o.db"), bound=10, keep_every=10)
    for i in range(40):
        put(box, sample("S1", i))
    in_flight_upto = box.after(0, 1000)[19].seq
    box.thin(protect_upto=in_flight_upto)
    rows = box.after(0, 1000)
    assert [r.seq for r in rows[:20]] == list(range(1, 21))  # untouched
    assert len(rows) == 20 + 2  # of the 20 unsent: the newest and the 10th-newest


def test_under_the_bound_nothing_is_thinned(tmp_path):
    box = Outbox(str(tmp_path / "o.db"), bound=100)
    for i in range(100):
        put(box, sample("S1", i))
    assert box.thin() == 0
    assert box.depth == 100


def test_an_outbox_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(str(blocker / "o.db"))


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path):
    path = tmp_path / "o.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(str(path))
