"""Real processes: --log-format json, --log-level, librdkafka routed and rate-limited."""
from __future__ import annotations

import json
import re
import time

from central_testkit import CentralUnderTest, FakeMonitor

from evharness.procs import free_port

FIELDS = {"ts", "level", "tier", "msg"}


def _central(procs, tmp_path, kafka: str, *args: str) -> CentralUnderTest:
    central = CentralUnderTest(procs, tmp_path, kafka, *args, token=None)
    return central.provision("CP1").start()


def _monitor(central: CentralUnderTest) -> FakeMonitor:
    monitor = FakeMonitor(central.host, central.port, "CP1", central.secrets["CP1"])
    return monitor.connect()


def _lines_after_stop(central: CentralUnderTest) -> list[str]:
    central.proc.terminate()
    return central.proc.log().splitlines()


def test_json_format_every_line_an_object_and_traces_carry_the_message_id(
        procs, tmp_path, kafka_bootstrap, kafka_ns):
    central = _central(procs, tmp_path, kafka_bootstrap, "--log-format", "json",
                       "--log-level", "debug")
    monitor = _monitor(central)
    beat = monitor.heartbeat()
    monitor.close()
    lines = _lines_after_stop(central)
    records = [json.loads(line) for line in lines]  # each line parses, or the test fails
    assert records and all(FIELDS <= set(r) for r in records)
    assert {r["tier"] for r in records} == {"evcharge-central"}
    assert any(r["msg"].startswith("ready listening") for r in records)
    traced = [r for r in records if r.get("message_id") == beat["message_id"]]
    assert traced and {r["type"] for r in traced} >= {"heartbeat_request"}
    assert all(r["level"] == "debug" for r in traced)


def test_default_level_logs_events_not_each_request(procs, tmp_path, kafka_bootstrap, kafka_ns):
    central = _central(procs, tmp_path, kafka_bootstrap)
    monitor = _monitor(central)
    for _ in range(5):
        monitor.heartbeat()
    monitor.close()
    text = "\n".join(_lines_after_stop(central))
    assert "CP1 authenticated" in text  # an event an operator cares about
    assert "heartbeat_request" not in text and " id=" not in text  # routine traffic: debug
    assert "<7>" not in text


def test_warning_level_silences_info_but_not_the_ready_line(
        procs, tmp_path, kafka_bootstrap, kafka_ns):
    central = _central(procs, tmp_path, kafka_bootstrap, "--log-level", "warning")
    monitor = _monitor(central)
    monitor.heartbeat()
    monitor.close()
    lines = _lines_after_stop(central)
    assert any("ready listening" in line for line in lines)
    priorities = {int(m.group(1)) for line in lines if (m := re.match(r"<(\d)>", line))}
    assert priorities and all(p <= 5 for p in priorities), lines
    assert not [line for line in lines if "authenticated" in line]


def test_kafka_down_gives_no_raw_librdkafka_lines_and_few_warnings(procs, tmp_path):
    closed = f"127.0.0.1:{free_port()}"  # nothing listens: every connect is refused
    central = CentralUnderTest(procs, tmp_path, closed, "--kafka-timeout", "2", token=None)
    central.provision("CP1").start()
    time.sleep(6)  # librdkafka retries every <= 2 s per client meanwhile
    lines = _lines_after_stop(central)
    assert not [line for line in lines if re.match(r"%\d\|", line)], lines
    kafka = [line for line in lines if "kafka: FAIL" in line or "kafka: ERROR" in line]
    assert 1 <= len(kafka) <= 4, lines
    assert all(line.startswith("<4>") for line in kafka)
