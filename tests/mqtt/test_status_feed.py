"""Central's cp-status feed: whole-state records, live figures at most 1/s per CP, a
compacted topic, and a Kafka failure that never reaches the handler that changed state."""
from __future__ import annotations

import asyncio

from confluent_kafka.admin import ConfigResource

from evcentral.db import Database
from evcentral.registry import Registry
from evcentral.session_store import Session
from evcentral.status_feed import StatusFeed
from evkafka import names
from evkafka.client import admin
from evkafka.compacted import ensure_compacted_topic
from evwire import loads, trace, validate
from evwire import types as t


def registry(tmp_path) -> Registry:
    db = Database(tmp_path / "central.sqlite3")
    db.add_cp("CP1", "s" * 32, location="Bay 1", max_kw=22.0)
    return Registry(db, heartbeat_timeout=3.0, default_price=0.30)


def session() -> Session:
    return Session(session_id="S1", request_id="R1", cp_id="CP1", driver_id="D1",
                   origin="driver", status="active", price_per_kwh=0.3, max_kw=22.0,
                   started_at=1_800_000_000, updated_at=1_800_000_000, energy_kwh=1.5,
                   cost=0.45, rate_kw=11.0)


def test_records_are_whole_valid_states_and_live_figures_are_throttled(tmp_path):
    reg = registry(tmp_path)
    sent: list[tuple[str, dict]] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()

        def publish(key: str, value: bytes) -> asyncio.Future:
            sent.append((key, loads(value)))
            fut = loop.create_future()
            fut.set_result(None)
            return fut

        feed = StatusFeed(reg, publish, "unused:1", live_interval=60.0)
        cp = reg.get("CP1")
        feed.state_changed(cp)  # not ready (topic not created yet): dropped
        assert sent == []
        feed.ready = True
        s = session()
        cp.session = s
        feed.session_event(s, t.STATUS_EVENT_SESSION_START)
        feed.session_event(s, t.STATUS_EVENT_SESSION_LIVE)
        feed.session_event(s, t.STATUS_EVENT_SESSION_LIVE)  # within the interval: skipped
        s.reason = "completed"
        feed.session_event(s, t.STATUS_EVENT_SESSION_END)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert [m["event"] for _k, m in sent] == ["session_start", "session_live", "session_end"]
    for key, msg in sent:
        validate(msg)
        assert key == msg["cp_id"] == "CP1" and msg["type"] == t.CP_STATUS
        assert msg["state"] == "DISCONNECTED" and msg["location"] == "Bay 1"
    live = sent[1][1]
    assert (live["power_kw"], live["energy_kwh"], live["cost"], live["driver_id"]) == \
        (11.0, 1.5, 0.45, "D1")
    assert sent[2][1]["power_kw"] == 0.0 and sent[2][1]["reason"] == "completed"


def test_a_kafka_failure_never_reaches_the_handler_and_is_logged_once(tmp_path):
    reg = registry(tmp_path)
    lines: list[str] = []
    trace.configure(sink=lines.append)
    try:
        async def run() -> None:
            loop = asyncio.get_running_loop()
            outcome = {"mode": "raise"}

            def publish(_key: str, _value: bytes) -> asyncio.Future:
                if outcome["mode"] == "raise":
                    raise BufferError("queue full")
                fut = loop.create_future()
                if outcome["mode"] == "fail":
                    fut.set_exception(RuntimeError("broker gone"))
                else:
                    fut.set_result(None)
                return fut

            feed = StatusFeed(reg, publish, "unused:1")
            feed.ready = True
            cp = reg.get("CP1")
            for mode in ("raise", "raise", "fail", "fail"):
                outcome["mode"] = mode
                feed.state_changed(cp, "test")  # must not raise
                await asyncio.sleep(0)
            outcome["mode"] = "ok"
            feed.state_changed(cp)
            await asyncio.sleep(0)

        asyncio.run(run())
    finally:
        trace.configure(sink=None)
    failures = [ln for ln in lines if "cp-status:" in ln and "not" in ln]
    assert len(failures) == 1, lines
    assert any("delivered again" in ln for ln in lines), lines


def test_cp_status_topic_is_compacted(kafka_bootstrap, kafka_ns):
    topic = names.cp_status()
    ensure_compacted_topic(kafka_bootstrap, topic)
    ensure_compacted_topic(kafka_bootstrap, topic)  # idempotent
    client = admin(kafka_bootstrap)
    for fut in client.describe_configs([ConfigResource("topic", topic)]).values():
        assert fut.result(10)["cleanup.policy"].value == "compact"
