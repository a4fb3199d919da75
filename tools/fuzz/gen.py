"""Input generators: what a hostile or broken peer could send.

Every target takes bytes. Decoder targets get byte streams (valid frames,
damaged frames, noise, over-long runs); handler targets get CBOR payloads of
messages built from the wire catalogue, each field either right, of the wrong
kind, or a nasty value (NaN, infinities, huge integers, empty or 5,000-character
strings, nested containers). A payload that is a CBOR list is a conversation:
["monitor" | "driver" | "admin" | "none", message, message, ...], played on
one channel that the harness first authenticates as that role.
"""
from __future__ import annotations

import random
import string
import time

from evwire import dumps, encode_frame
from evwire.framing import cobs_encode, crc16_ccitt_false
from evwire.schema import SCHEMA, rule_of

TYPES = sorted(SCHEMA)
CP_IDS = ("CP1", "CP2", "CP-unknown", "", "CP1\x00", "x" * 300)
DRIVER_IDS = ("D1", "D2", "driver-unknown", "", "D1 ", "é" * 40)
SESSION_IDS = ("S1", "S2", "", "00000000-0000-4000-8000-000000000001")
ROLES = ("monitor", "driver", "admin", "none")

NASTY = (float("nan"), float("inf"), float("-inf"), -0.0, 1e308, -1e308, 5e-324,
         2**63, -(2**63) - 1, 2**64, 2**200, -1, 0, 1, True, False, None, "", "\x00",
         "a" * 5000, "\u202e\ufeff", b"", b"\x00\xff", [], {}, [None], {"": None},
         {1: 2}, [[[[[]]]]], "NaN", "-1", "1e999")


def nasty(rng: random.Random) -> object:
    pick = rng.random()
    if pick < 0.6:
        return rng.choice(NASTY)
    if pick < 0.8:
        return rng.uniform(-1e6, 1e6) * rng.choice((1, 1e-9, 1e9, 1e300))
    if pick < 0.9:
        return rng.randint(-(2**70), 2**70)
    return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40)))


ROLE_TYPES = {
    "monitor": ("register_request", "heartbeat_request", "status_update", "fault_notification",
                "recovery_notification", "command_response", "error_response",
                "local_charge_request", "auth_request"),
    "driver": ("charge_request", "stop_charging_request", "available_cps_request",
               "session_history_request", "auth_request"),
    "admin": ("manual_command",),
}
ADMIN_COMMANDS = ("list_cps", "list_sessions", "stop_cp", "resume_cp", "stop_all", "resume_all",
                  "close_session", "audit", "dead_letters", "reboot", "")
STATUS_WORDS = ("success", "failure", "charging", "available", "faulted", "stopped", "ok",
                "waiting_for_vehicle", "disconnected", "supplying", "")


def _rule(kind: str) -> tuple:
    """(base kind, lowest, highest) of a catalogue kind; plain kinds if the schema has none."""
    try:
        return rule_of(kind)
    except (KeyError, NameError):
        return (kind, None, None)


def in_range(base: str, lo: object, hi: object, rng: random.Random) -> object:
    """A value of a numeric rule: inside, at either end, or just outside."""
    if lo is None:
        lo, hi = -1000, 10**9
    pick = rng.random()
    if pick < 0.15:
        return lo
    if pick < 0.3:
        return hi
    if pick < 0.4:
        return lo - 1 if base == "int" else lo - 1e-9
    if pick < 0.5:
        return hi + 1 if base == "int" else hi * 1.0000001 + 1e-9
    if base == "int":
        return rng.randint(lo, min(hi, lo + 10**7))
    return rng.uniform(lo, min(hi, lo + 10**4))


def good_value(name: str, kind: str, rng: random.Random) -> object:
    """A plausible value of a field, so handlers get past validation."""
    base, lo, hi = _rule(kind)
    if name == "cp_id":
        return rng.choice(CP_IDS[:3])
    if name == "driver_id":
        return rng.choice(DRIVER_IDS[:3])
    if name == "session_id":
        return rng.choice(SESSION_IDS)
    if name == "command":
        return rng.choice(ADMIN_COMMANDS)
    if name in ("status", "engine_status", "cp_status"):
        return rng.choice(STATUS_WORDS)
    if name in ("timestamp", "expires_at") and rng.random() < 0.7:
        return int(time.time()) + rng.randint(-200, 200)
    if base == "str":
        if kind == "id":
            return rng.choice(("S1", "x", "a" * 64, "a" * 65, "bad id", "m-1"))
        return rng.choice(("ok", "stop", "x" * rng.randint(0, 64), "y" * ((hi or 256) + 1)))
    if base in ("int", "num"):
        return in_range(base, lo, hi, rng)
    if base == "bool":
        return rng.random() < 0.5
    if base == "list":
        return rng.choice(([], [{"cp_id": "CP1"}], [1, "a", None]))
    if base == "map":
        return {"a": 1}
    return rng.choice((None, 1, "x", [1], {"k": "v"}))


def message(rng: random.Random, msg_type: object = None) -> dict:
    """A message of a catalogue type (or a bogus one) with mostly plausible fields."""
    if msg_type is None:
        msg_type = rng.choice(TYPES) if rng.random() < 0.95 else nasty(rng)
    required, optional = SCHEMA.get(msg_type, ((), ())) if isinstance(msg_type, str) \
        else ((), ())
    msg: dict = {"type": msg_type, "message_id": f"m-{rng.randint(0, 10**9)}"}
    wrongness = rng.choice((0.0, 0.0, 0.02, 0.1, 0.5))
    for spec in required + tuple(s for s in optional if rng.random() < 0.5):
        name, kind = spec.split(":")
        if rng.random() < wrongness / 2:
            continue  # a missing field
        if rng.random() < wrongness:
            msg[name] = nasty(rng)
        else:
            msg[name] = good_value(name, kind.rstrip("?"), rng)
    if rng.random() < 0.05:
        msg["message_id"] = nasty(rng)
    if rng.random() < 0.1:
        msg[rng.choice(("extra", "mac", "token", "", "\x00"))] = nasty(rng)
    if rng.random() < 0.05:
        msg[rng.choice((1, -1, 2.5, b"k", None, True))] = "non-text key"
    return msg


def role_message(rng: random.Random, role: object) -> dict:
    """Mostly the types the role may send, sometimes any type."""
    types = ROLE_TYPES.get(role) if isinstance(role, str) else None
    if types and rng.random() < 0.85:
        return message(rng, rng.choice(types))
    return message(rng)


def payload(rng: random.Random, conversation: bool = True) -> bytes:
    """A CBOR payload: one message, a conversation (list), or junk."""
    pick = rng.random()
    if conversation and pick < 0.45:
        roles = (rng.choice(ROLES),) if rng.random() < 0.9 else (nasty(rng),)
        value: object = list(roles) + [role_message(rng, roles[0])
                                       for _ in range(rng.randint(1, 6))]
    elif pick < 0.9:
        value = message(rng)
    elif pick < 0.95:
        value = nasty(rng)
    else:
        return rng.randbytes(rng.randint(0, 64))
    try:
        data = dumps(value)
    except ValueError:  # a value cbor2 cannot encode: junk instead
        return rng.randbytes(8)
    return mutate(rng, data) if rng.random() < 0.1 else data


def mutate(rng: random.Random, data: bytes) -> bytes:
    """Flip, insert, delete or duplicate a few bytes."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        pos = rng.randint(0, len(buf))
        if op < 0.4 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randint(0, 255)
        elif op < 0.6:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op < 0.8 and buf:
            del buf[pos:pos + rng.randint(1, 8)]
        else:
            buf[pos:pos] = buf[pos:pos + rng.randint(1, 32)]
    return bytes(buf)


def raw_frame(body: bytes) -> bytes:
    """A frame around any payload bytes (valid COBS and CRC, whatever the CBOR)."""
    crc = crc16_ccitt_false(body)
    return b"\x00" + cobs_encode(body + bytes((crc >> 8, crc & 0xFF))) + b"\x00"


def stream(rng: random.Random) -> bytes:
    """A byte stream for a FrameDecoder: frames good and bad, noise, long runs."""
    parts = []
    for _ in range(rng.randint(1, 6)):
        pick = rng.random()
        if pick < 0.3:
            try:
                parts.append(encode_frame(message(rng)))
            except ValueError:
                parts.append(b"\x00")
        elif pick < 0.5:
            parts.append(raw_frame(payload(rng, conversation=False)))
        elif pick < 0.65:
            parts.append(mutate(rng, raw_frame(payload(rng, conversation=False))))
        elif pick < 0.8:
            parts.append(rng.randbytes(rng.randint(0, 300)))
        elif pick < 0.9:
            parts.append(bytes([rng.randint(1, 255)]) * rng.randint(1, 9000))  # over-long run
        else:
            parts.append(b"\x00" * rng.randint(1, 5))
    return b"".join(parts)


def random_map(rng: random.Random) -> bytes:
    """For validate(): a random map, catalogue-shaped or not, as CBOR."""
    try:
        if rng.random() < 0.7:
            value: object = message(rng)
        else:
            value = {nasty(rng) if rng.random() < 0.3 else rng.choice(("type", "message_id", "x")):
                     nasty(rng) for _ in range(rng.randint(0, 6))}
        return dumps(value)
    except (ValueError, TypeError):
        return dumps({"type": "x"})
