"""The smoke run's "nothing lost": every count the parts report, checked (evbench.losses)."""
from __future__ import annotations

import copy

from evbench.losses import run_losses


def clean_run() -> dict:
    step = {"cps": 50,
            "ramp": {"requested": 50, "accepted": 50, "charging": 50},
            "telemetry": {"sent": 300, "received": 300, "lost": 0},
            "tickets": {"expected": 59, "received": 59},
            "probes": {"sessions": 9, "stuck": 0}}
    outbox = {"replay": {"sent": 500, "delivered": 500},
              "live": {"sent": 500, "delivered": 500}}
    return {"load": {"steps": [step], "profile": {"step": copy.deepcopy(step)}},
            "monitor": {"outbox": {"through_monitor": outbox}}}


def test_a_run_that_lost_nothing_has_no_losses():
    assert run_losses(clean_run()) == []


def test_each_kind_of_loss_is_named_with_its_count():
    cases = [
        (("load", "steps", 0, "ramp", "accepted"), 48,
         "load step of 50 CPs: sessions requested -> accepted: 2 of 50 lost"),
        (("load", "steps", 0, "ramp", "charging"), 49,
         "load step of 50 CPs: sessions accepted -> charging at the CP: 1 of 50 lost"),
        (("load", "steps", 0, "telemetry", "received"), 297,
         "load step of 50 CPs: telemetry records: 3 of 300 lost"),
        (("load", "steps", 0, "tickets", "received"), 58,
         "load step of 50 CPs: tickets: 1 of 59 lost"),
        (("load", "steps", 0, "probes", "stuck"), 2,
         "load step of 50 CPs: 2 probe sessions without a start command or a ticket"),
        (("load", "profile", "step", "tickets", "received"), 0,
         "profiled step of 50 CPs: tickets: 59 of 59 lost"),
        (("monitor", "outbox", "through_monitor", "replay", "delivered"), 499,
         "monitor outbox replay: records to Kafka: 1 of 500 lost"),
        (("monitor", "outbox", "through_monitor", "live", "delivered"), 0,
         "monitor outbox live: records to Kafka: 500 of 500 lost"),
    ]
    for path, value, expected in cases:
        data = clean_run()
        where = data
        for key in path[:-1]:
            where = where[key]
        where[path[-1]] = value
        assert run_losses(data) == [expected], path


def test_a_report_without_its_counts_cannot_show_that_nothing_was_lost():
    data = clean_run()
    del data["load"]["steps"][0]["telemetry"]["received"]
    del data["monitor"]["outbox"]["through_monitor"]["live"]
    data["load"]["steps"][0]["tickets"]["expected"] = 0
    assert run_losses(data) == [
        "load step of 50 CPs: telemetry records: sent/delivered counts missing from the report",
        "load step of 50 CPs: tickets: nothing was sent, so no loss could be seen",
        "monitor outbox live: records to Kafka: sent/delivered counts missing from the report",
    ]
    assert run_losses({"load": {"steps": []}, "monitor": {"error": "crashed"}}) == [
        "load: no step ran, so no loss could be seen"]


def test_crashed_parts_and_heartbeat_only_steps_are_left_to_the_crash_check():
    data = clean_run()
    data["load"]["steps"].append({"cps": 10000, "error": "timed out"})
    data["load"]["steps"].append({"cps": 10000, "heartbeats_only": True, "telemetry": None})
    assert run_losses(data) == []
    assert run_losses({"load": {"error": "x"}, "monitor": {"error": "y"}}) == []
