"""Regenerate the wire's golden vectors: tests/vectors/wire_vectors.json.

The examples are in tools/vector_examples.py; this script builds and writes them.

Every message type of the catalogue (evwire.schema.SCHEMA), a set of edge
values, and messages the catalogue refuses (kind "refused", with the exact
"error" validate() must give: NaN, infinities, negative and huge numbers, bad
ids, timestamps out of the window), each with the CBOR bytes cbor2 produces
(canonical=True) and the complete frame. The frame is built here by an
independent reference (CRC from binascii.crc_hqx, a textbook COBS loop), not
by evwire, so the vectors check evwire's framing instead of echoing it.

    .venv/bin/python tools/gen_vectors.py           # rewrite the file
    .venv/bin/python tools/gen_vectors.py --check   # exit 1 if it is stale

JSON conventions (decoded by tests/micropython/mp_vectors.py): bytes are
{"$bytes": "hex"}, non-finite floats {"$float": "nan"}, maps with non-text
keys {"$map": [[key, value], ...]}.
"""
from __future__ import annotations

import argparse
import binascii
import json
import math
import sys
from pathlib import Path
from typing import Any

import cbor2
from vector_examples import (  # beside this script
    edge_values,
    message_examples,
    refused_examples,
    synthesized_example,
    variant_examples,
)

from evwire import schema
from evwire.errors import ValidationError

ROOT = Path(__file__).resolve().parent.parent
VECTORS_FILE = ROOT / "tests" / "vectors" / "wire_vectors.json"
ID_PREFIX = "00000000-0000-4000-8000-"


def to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: to_json(v) for k, v in value.items()}
        return {"$map": [[to_json(k), to_json(v)] for k, v in value.items()]}
    return value


def reference_cobs(data: bytes) -> bytes:
    """Textbook COBS; a final full block gets no trailing 0x01 (as evwire sends)."""
    out = bytearray()
    block = bytearray()
    for index, byte in enumerate(data):
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block = bytearray()
            continue
        block.append(byte)
        if len(block) == 254:
            out.append(0xFF)
            out += block
            block = bytearray()
            if index == len(data) - 1:
                return bytes(out)
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def reference_frame(payload: bytes) -> bytes:
    crc = binascii.crc_hqx(payload, 0xFFFF)
    return b"\x00" + reference_cobs(payload + crc.to_bytes(2, "big")) + b"\x00"


def vector(name: str, kind: str, value: dict[str, Any], error: str | None = None
           ) -> dict[str, Any]:
    payload = cbor2.dumps(value, canonical=True)
    out = {"name": name, "kind": kind, "value": to_json(value), "cbor": payload.hex(),
           "frame": reference_frame(payload).hex()}
    if error is not None:
        out["error"] = error
    return out


def build() -> dict[str, Any]:
    examples = message_examples()
    vectors = []
    built: dict[str, dict[str, Any]] = {}
    for number, msg_type in enumerate(sorted(schema.SCHEMA), start=1):
        fields = examples.get(msg_type) or synthesized_example(msg_type)
        msg = {"type": msg_type, "message_id": f"{ID_PREFIX}{number:012d}", **fields}
        schema.validate(msg)  # a vector that the catalogue refuses is a bug here
        vectors.append(vector(msg_type, "message", msg))
        built[msg_type] = msg
    for name, msg_type, changes in variant_examples():
        msg = {**built[msg_type], **changes}
        schema.validate(msg)
        vectors.append(vector(name, "message", msg))
    for name, value in edge_values():
        wrapped = value if isinstance(value, dict) else {"value": value}
        vectors.append(vector(name, "edge", wrapped))
    for name, msg_type, changes, error in refused_examples():
        msg = {**built[msg_type], **changes}
        try:
            schema.validate(msg)
        except ValidationError as exc:
            if str(exc) != error:
                raise SystemExit(
                    f"gen_vectors: {name}: refused with {exc!r}, not {error!r}") from None
        else:
            raise SystemExit(f"gen_vectors: {name}: the catalogue accepts it")
        vectors.append(vector(f"refused: {name}", "refused", msg, error))
    return {
        "about": "Golden vectors of the evcharge wire: CBOR = cbor2.dumps(value, "
                 "canonical=True); frame = 00 COBS(cbor + CRC-16/CCITT-FALSE) 00. "
                 "Regenerate with: .venv/bin/python tools/gen_vectors.py",
        "vectors": vectors,
    }


def render() -> str:
    """The file's exact text (the drift test compares it with the committed file)."""
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the committed file differs")
    parser.add_argument("--out", type=Path, default=VECTORS_FILE)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run .venv/bin/python tools/gen_vectors.py",
                  file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {len(json.loads(text)['vectors'])} vectors to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
