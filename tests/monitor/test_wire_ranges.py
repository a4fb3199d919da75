"""The Monitor's Engine link refuses an out-of-range reading at the schema: the
Engine gets an error_response naming the field, nothing goes to the outbox
(so nothing to Kafka), and the link stays up."""
from __future__ import annotations

from evharness.procs import free_port, wait_until
from evwire import make
from evwire import types as t
from evwire.compat import unix_time


def _charging_data(**changes) -> dict:
    fields = {"cp_id": "CP1", "session_id": "S1", "energy_consumed_kwh": 1.5, "total_cost": 0.45,
              "charging_rate": 7.4, "timestamp": unix_time(), "driver_id": "D1"}
    fields.update(changes)
    return make(t.CHARGING_DATA, **fields)


def test_nan_negative_and_bad_ids_from_the_engine_are_refused(fake_engine, fake_central,
                                                               start_monitor, read_outbox):
    # Kafka unreachable: whatever the Monitor accepts stays in its outbox.
    proc = start_monitor(fake_engine, fake_central, "--kafka", f"127.0.0.1:{free_port()}")
    fake_central.wait_for(t.HEARTBEAT_REQUEST)
    cases = [
        (_charging_data(energy_consumed_kwh=float("nan")),
         "charging_data: field 'energy_consumed_kwh' must be a finite number >= 0 and "
         "<= 10000000"),
        (_charging_data(total_cost=-0.45),
         "charging_data: field 'total_cost' must be a finite number >= 0 and <= 1000000"),
        (_charging_data(charging_rate=float("inf")),
         "charging_data: field 'charging_rate' must be a finite number >= 0 and <= 1000"),
        (_charging_data(session_id="S1; DROP TABLE"),
         "charging_data: field 'session_id' must be 1-64 of A-Z a-z 0-9 . _ : -"),
        (_charging_data(timestamp=1),
         "charging_data: field 'timestamp' must be an integer >= 946684800 and "
         "<= 4102444800"),
    ]
    for bad, error in cases:
        mark = fake_engine.mark()
        fake_engine.send(bad)
        reply = fake_engine.wait_for(t.ERROR_RESPONSE, since=mark,
                                     where=lambda m, b=bad: m["message_id"] == b["message_id"])
        assert reply["error"] == error
    # The link is up and the same Monitor still takes a good reading, and only it.
    good = _charging_data()
    fake_engine.send(good)
    wait_until(lambda: read_outbox(), timeout=10, what="the good reading stored")
    assert [row[1] for row in read_outbox()] == [good["message_id"]]
    assert proc.alive() and "Traceback" not in proc.log()
