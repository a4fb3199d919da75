# evwire.dumps/loads on CPython: cbor2 (C-accelerated), wrapped so that it
# fails like the portable codec (evwire.cbor): ValueError for what it cannot
# encode, DecodeError for bad input, and trailing bytes refused. CPython only:
# evwire.framing imports it when evwire.compat found cbor2, and the board
# bundle leaves it out.
import io

from evwire.cbor import MAX_DEPTH
from evwire.compat import cbor2
from evwire.errors import DecodeError


def dumps(obj):
    try:
        return cbor2.dumps(obj, canonical=True)
    except cbor2.CBOREncodeError as exc:
        raise ValueError("cannot encode: %s" % exc)


def _refuse_tag(*_args):
    raise DecodeError("CBOR tags are not part of the wire")


# The portable codec knows no tags and no indefinite lengths, so neither does
# this one: cbor2 would otherwise hand handlers bignums beyond 64 bits,
# datetimes, Decimals, sets or regular expressions (found by tools/fuzz).
_SEMANTIC = dict.fromkeys((0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 100, 256, 258, 260,
                           261, 1004, 55799), _refuse_tag)


def loads(data):
    stream = io.BytesIO(data)
    try:
        value = cbor2.load(stream, tag_hook=_refuse_tag, semantic_decoders=_SEMANTIC,
                           allow_indefinite=False, max_depth=MAX_DEPTH)
    except Exception as exc:  # cbor2 raises several classes; one for us
        raise DecodeError("invalid CBOR: %s" % exc)
    # cbor2 ignores trailing bytes; the portable codec (and we) do not.
    if stream.tell() != len(data):
        raise DecodeError("extra bytes after CBOR value")
    return value
