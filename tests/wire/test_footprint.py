"""evwire's RAM footprint on MicroPython, which the Engine's heap budget depends on.

A fresh `micropython` process imports evwire and uses it as the Engine does;
the figures come from gc.mem_alloc() after a collect, so they are the same
on every run of one binary (no timing involved). Heap taken by the interned
names (qstr pools, which grow in doubling steps) is counted apart, so one
added name cannot tip a budget by a whole pool.
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from evharness.procs import ROOT, micropython_binary

SCRIPT = """
import gc, json, micropython, sys

def heap():
    gc.collect()
    micropython.qstr_info()
    return gc.mem_alloc()

base = heap()
import evwire
from evwire import types as t
imported = heap()

def engine_traffic(n):
    return (evwire.make(t.HEALTH_CHECK_REQUEST, id="CP1"),
            evwire.make(t.START_CHARGING_COMMAND, cp_id="CP1", session_id="S%d" % n,
                        driver_id="D1", price_per_kwh=0.3, max_charging_rate_kw=11.0),
            evwire.make(t.STOP_CHARGING_COMMAND, cp_id="CP1", session_id="S%d" % n),
            evwire.make(t.CHARGE_COMPLETION_ACK, session_id="S%d" % n),
            evwire.make(t.CHARGING_DATA, cp_id="CP1", session_id="S%d" % n,
                        energy_consumed_kwh=1.5, total_cost=0.45, charging_rate=7.4,
                        timestamp=1700000000, driver_id="D1", meter_kwh=12.5, voltage=230.0,
                        current=32.0, price_per_kwh=0.3))

def exchange(rounds):
    for n in range(rounds):
        for msg in engine_traffic(n):
            evwire.validate(msg)
            assert evwire.FrameDecoder().feed(evwire.encode_frame(msg)) == [msg]

exchange(1)
warm = heap()
exchange(30)
used = heap()
print(json.dumps({"base": base, "imported": imported, "warm": warm, "used": used,
                  "schema_table_built": "SCHEMA" in evwire.schema.__dict__,
                  "modules": sorted(k for k in sys.modules if k.startswith("evwire"))}))
"""
QSTR_TOTAL = re.compile(r"n_total_bytes=(\d+)")


@pytest.fixture(scope="module")
def probe() -> tuple[dict, list[int]]:
    done = subprocess.run([micropython_binary(), "-X", "heapsize=1M", "-c", SCRIPT],
                          capture_output=True, text=True, timeout=60,
                          env={"MICROPYPATH": str(ROOT / "shared")})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    return json.loads(lines[-1]), [int(m.group(1)) for m in map(QSTR_TOTAL.search, lines) if m]


def test_importing_evwire_stays_within_its_budget(probe):
    figures, qstr_totals = probe
    qstr_growth = qstr_totals[1] - qstr_totals[0]
    objects = figures["imported"] - figures["base"] - qstr_growth
    # 40 KB when the catalogue was a dict of tuples and the CRC a 256-int
    # table; about 28 KB since (the unix port's 64-bit objects); 32.1 KB with
    # issue 22's and the trust stage's lines, 30.3 KB once the hub's lines
    # moved to evwire/schema_host.py (not held on MicroPython).
    assert objects <= 32 * 1024, objects
    assert qstr_growth <= 12 * 1024, qstr_growth


def test_the_engine_traffic_leaves_nothing_behind(probe):
    # No per-type parsed schema and no encoded-key cache on MicroPython: after
    # validating, encoding and decoding the Engine's messages, the live heap is
    # what it was after the first exchange, which left next to nothing.
    figures, _qstrs = probe
    assert figures["warm"] - figures["imported"] <= 1024, figures
    assert figures["used"] - figures["warm"] <= 128, figures
    assert figures["schema_table_built"] is False


def test_the_engine_does_not_load_what_it_never_uses(probe):
    figures, _qstrs = probe
    assert "evwire.auth" not in figures["modules"]  # the Monitor's, not the Engine's
    assert "evwire.cbor2_codec" not in figures["modules"]  # CPython's codec
    assert "evwire.schema_host" not in figures["modules"]  # the hub's catalogue lines
    assert "evwire.cbor" in figures["modules"]


def test_a_hub_type_is_validated_and_its_lines_let_go():
    # The hub-only catalogue lines are read when asked for and dropped again:
    # an Engine that meets a cp_status (a stray peer) validates it exactly as
    # CPython does and keeps no heap for it.
    script = """
import gc, sys, evwire
from evwire import types as t
def heap():
    gc.collect()
    return gc.mem_alloc()
msg = evwire.make(t.CP_STATUS, cp_id="CP1", state="AVAILABLE", event="state", timestamp=1700000000)
try:
    evwire.validate(evwire.make(t.CP_STATUS, cp_id="CP1", state="X", event="state", timestamp=1))
except evwire.ValidationError as e:
    print(e)
evwire.validate(msg)
before = heap()
for _ in range(20):
    evwire.validate(msg)
print(heap() - before, "evwire.schema_host" in sys.modules, hasattr(evwire, "schema_host"))
"""
    done = subprocess.run([micropython_binary(), "-X", "heapsize=1M", "-c", script],
                          capture_output=True, text=True, timeout=60,
                          env={"MICROPYPATH": str(ROOT / "shared")})
    assert done.returncode == 0, done.stdout + done.stderr
    refusal, leftover = done.stdout.splitlines()
    assert refusal == ("cp_status: field 'timestamp' must be an integer >= 946684800"
                       " and <= 4102444800")
    grown, loaded, attribute = leftover.split()
    assert int(grown) <= 64 and loaded == "False" and attribute == "False", leftover
