# ruff: noqa: UP031  (MicroPython code: %-formatting is what it has cheaply)
# The wire decoder as the Engine runs it: FrameDecoder.feed, loads and validate
# under the MicroPython unix port (run by tools/fuzz/run.py as target mp.wire):
#   MICROPYPATH=shared micropython -X heapsize=4M tools/fuzz/mp_wire.py RUNS SEED
# Portable on purpose (no signal, no random module needed): its own xorshift
# generator, %-formatting. Prints one JSON line like the CPython targets; a
# crash input is saved under build/fuzz/crashes/.
import json
import sys
import time

import evwire
from evwire import DecodeError, FrameDecoder, ValidationError, loads, validate
from evwire.framing import cobs_encode, crc16_ccitt_false

CRASH_DIR = "build/fuzz/crashes"
HANG_MS = 1000
TYPES = ("health_check_request", "start_charging_command", "stop_charging_command",
         "charge_completion_ack", "local_charge_response", "error_response", "charging_data",
         "no_such_type", "")
NASTY = (None, True, 0, -1, 2 ** 62, -(2 ** 62), 1.5, 1e308, -0.0, "", "x" * 300, b"\x00",
         [], {}, [[[]]], {"a": {"b": None}})


class Rng:
    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def below(self, n):
        return self.next() % n

    def chance(self, percent):
        return self.below(100) < percent

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def raw(self, n):
        return bytes(self.below(256) for _ in range(n))


def message(rng):
    msg = {"type": rng.pick(TYPES), "message_id": "m-%d" % rng.below(1000000)}
    for name in ("cp_id", "session_id", "driver_id", "price_per_kwh", "max_charging_rate_kw",
                 "energy_consumed_kwh", "total_cost", "timestamp", "status", "error"):
        if rng.chance(60):
            msg[name] = rng.pick(NASTY) if rng.chance(30) else rng.pick(
                ("CP1", "S1", "D1", 0.5, 11, 1800000000, "success"))
    return msg


def frame_of(body):
    crc = crc16_ccitt_false(body)
    return b"\x00" + cobs_encode(body + bytes((crc >> 8, crc & 0xFF))) + b"\x00"


def mutate(rng, data):
    buf = bytearray(data)
    for _ in range(1 + rng.below(3)):
        if buf and rng.chance(50):
            buf[rng.below(len(buf))] = rng.below(256)
        elif buf:  # MicroPython's bytearray has no item deletion
            cut = rng.below(len(buf))
            buf = buf[:cut] + buf[cut + 1:]
    return bytes(buf)


def stream(rng):
    parts = []
    for _ in range(1 + rng.below(4)):
        k = rng.below(10)
        if k < 4:
            parts.append(frame_of(evwire.dumps(message(rng))))
        elif k < 6:
            parts.append(mutate(rng, frame_of(evwire.dumps(message(rng)))))
        elif k < 8:
            parts.append(rng.raw(rng.below(200)))
        elif k < 9:
            parts.append(b"\x07" * (1 + rng.below(5000)))
        else:
            parts.append(frame_of(mutate(rng, evwire.dumps(message(rng)))))
    return b"".join(parts)


def check(rng, data):
    dec = FrameDecoder()
    start = 0
    while start < len(data):
        step = 1 + rng.below(len(data) - start)
        for msg in dec.feed(data[start:start + step]):
            if not isinstance(msg, dict):
                raise AssertionError("feed returned a non-map")
            try:
                validate(msg)
            except ValidationError:
                pass
        if dec.buffered > dec.buffer_bound:
            raise AssertionError("buffered %d > bound %d" % (dec.buffered, dec.buffer_bound))
        start += step
    body = data[1:-1] if len(data) > 2 else data
    try:
        loads(body)
    except DecodeError:
        pass


def save(data, exc):
    try:
        import os

        for part in ("build", "build/fuzz", CRASH_DIR):
            try:
                os.mkdir(part)
            except OSError:
                pass
        path = "%s/mp.wire-crash-%d.bin" % (CRASH_DIR, len(data))
        with open(path, "wb") as fh:
            fh.write(data)
        with open(path[:-4] + ".txt", "w") as fh:
            fh.write("%s: %s\n" % (type(exc).__name__, exc))
        return path
    except OSError:
        return "(not saved)"


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    rng = Rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    crashes = hangs = 0
    slowest = 0
    saved = []
    started = time.ticks_ms()
    for _ in range(runs):
        data = stream(rng)
        t0 = time.ticks_ms()
        try:
            check(rng, data)
        except Exception as exc:  # a crash: the finding this run exists for
            crashes += 1
            if len(saved) < 20:
                saved.append(save(data, exc))
                print("mp.wire: crash %s: %s -> %s" % (type(exc).__name__, exc, saved[-1]))
        took = time.ticks_diff(time.ticks_ms(), t0)
        slowest = max(slowest, took)
        if took > HANG_MS:
            hangs += 1
    seconds = time.ticks_diff(time.ticks_ms(), started) / 1000
    print(json.dumps({"target": "mp.wire", "runs": runs, "seconds": seconds,
                      "inputs_per_s": int(runs / seconds) if seconds else 0,
                      "crashes": crashes, "hangs": hangs, "slowest_ms": slowest,
                      "saved": saved}))


main()
