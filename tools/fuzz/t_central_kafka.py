"""Central's Kafka consumer entry: KafkaRecords.handle_batch with one record of
cp-events or driver-requests, a fake bridge capturing what it publishes.

Input: byte 0 picks the topic (even: cp-events, odd: driver-requests), byte 1
the record key, the rest is the record value. No exception may leave
handle_batch (the fake bridge delivers everything), everything published must
be a valid message, and a value that does not decode to a valid message must
end as a dead letter or, for a driver request with someone to answer, an
error reply on driver-events.
"""
from __future__ import annotations

import inspect
import random
from pathlib import Path

import gen
from central_rig import DRIVER_SECRET, SECRETS, CentralRig, check_reply
from fuzzlib import Finding, Run, Target

from evcentral import kafka_records
from evcentral.kafka_records import KafkaRecords
from evcentral.telemetry import Record
from evkafka import names
from evwire import dumps, loads, validate
from evwire.auth import sign_record
from evwire.errors import WireError

KEYS = (None, b"", b"D1", b"CP1", b"CP2", b"D2", b"\xff\xfe", b"x" * 300)
# Dead letters are checked for once kafka_records sets records aside (W2's work).
DEAD_LETTERS = "dead_letter" in inspect.getsource(kafka_records)


def _sign(msg: dict) -> dict:
    """Sign with the right secret when the message names a known peer (so it gets past
    verification and reaches the handlers)."""
    cp_id, driver_id = msg.get("cp_id"), msg.get("driver_id")
    if msg.get("type") in ("charging_data", "charge_completion") and cp_id in SECRETS:
        return sign_record(msg, SECRETS[cp_id])
    if driver_id == "D1":
        return sign_record(msg, DRIVER_SECRET)
    return msg


def generate(rng: random.Random) -> bytes:
    head = bytes((rng.randint(0, 255), rng.randint(0, 255)))
    pick = rng.random()
    if pick < 0.6:
        msg = gen.message(rng, rng.choice(("charging_data", "charge_completion",
                                           "charge_request", "stop_charging_request",
                                           "available_cps_request",
                                           "session_history_request")))
        try:
            value = dumps(_sign(msg) if rng.random() < 0.7 else msg)
        except (ValueError, TypeError):
            value = b"\xa0"
        if rng.random() < 0.1:
            value = gen.mutate(rng, value)
    else:
        value = gen.payload(rng, conversation=False)
    return head + value


def _bad(value: bytes) -> bool:
    try:
        validate(loads(value))
        return False
    except WireError:
        return True


def _setup(workdir: Path) -> Run:
    rig = CentralRig(workdir)
    records = KafkaRecords(rig.hub, rig.router, rig.bridge)
    topics = (names.cp_events(), names.driver_requests())
    dead_topic = names.dead_letter()
    offset = [0]

    def run(data: bytes) -> None:
        if len(data) < 2:
            return
        topic = topics[data[0] & 1]
        key = KEYS[data[1] % len(KEYS)]
        value = data[2:] if data[1] % 17 else None
        offset[0] += 1
        rec = Record(topic, 0, offset[0], key, value)
        rig.bridge.published.clear()
        rig.run(records.handle_batch([rec]))
        out = list(rig.bridge.published)
        replies = 0
        dead = 0
        for out_topic, _key, out_value in out:
            msg = loads(out_value)
            if out_topic == dead_topic:
                dead += 1
                validate(msg)
                # The consumer's last line of defence caught an exception: a handler bug.
                if msg["reason"].startswith("handler failed"):
                    raise Finding(f"dead letter for a handler bug: {msg['reason']}")
            else:
                check_reply(msg, value)
                replies += msg.get("type") == "error_response" or msg.get("status") == "failure"
        if DEAD_LETTERS and (value is None or _bad(value)) and not (dead or replies):
            raise Finding(f"bad {topic} record set aside silently: {value!r:.200}")
    return run


TARGETS = [
    Target("central.kafka", generate, _setup,
           "KafkaRecords.handle_batch: cp-events and driver-requests values"),
]
