"""evwire: the one wire schema of the evcharge network, for every tier.

Runs unchanged on CPython (using cbor2) and MicroPython (own codec), with
byte-identical output. Public API:

    encode_frame(msg) -> bytes       one complete frame, 0x00 delimiters included
    FrameDecoder(max_len=4096)       .feed(data) -> [msg, ...]; counters
                                     .frames, .dropped_frames, .dropped_bytes
    FrameDecoder(max_len, with_payload=True)  .feed(data) -> [(msg, payload), ...]
                                     payload: the message's exact CBOR bytes
    dumps(obj) -> bytes              deterministic CBOR (= cbor2 canonical)
    loads(data) -> obj
    validate(msg)                    raises ValidationError naming type+field
    new_message_id() -> str          UUID4 text
    make(type, **fields)             a message with a fresh message_id
    success / failure / error_response   response builders
    Dispatcher(handlers, accepts)    validate + handler-per-type + tracing
    types (as t)                     every message type and status constant

Frame: 0x00 | COBS(CBOR payload | CRC-16/CCITT-FALSE, big-endian) | 0x00
"""
from evwire import types  # noqa: F401
from evwire.dispatch import Dispatcher  # noqa: F401
from evwire.errors import (  # noqa: F401
    DecodeError,
    RejectedError,
    UnknownTypeError,
    ValidationError,
    WireError,
)
from evwire.framing import (  # noqa: F401
    DEFAULT_MAX,
    FrameDecoder,
    crc16_ccitt_false,
    dumps,
    encode_frame,
    loads,
)
from evwire.messages import (  # noqa: F401
    error_response,
    failure,
    make,
    make_timestamped,
    new_message_id,
    set_id_source,
    success,
)
from evwire.schema import validate  # noqa: F401

__version__ = "0.1.0"
