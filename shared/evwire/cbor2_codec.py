# evwire.dumps/loads on CPython: cbor2 (C-accelerated), wrapped so that it
# fails like the portable codec (evwire.cbor): ValueError for what it cannot
# encode, DecodeError for bad input, and trailing bytes refused. CPython only:
# evwire.framing imports it when evwire.compat found cbor2, and the board
# bundle leaves it out.
import io

from evwire.compat import cbor2
from evwire.errors import DecodeError


def dumps(obj):
    try:
        return cbor2.dumps(obj, canonical=True)
    except cbor2.CBOREncodeError as exc:
        raise ValueError("cannot encode: %s" % exc)


def loads(data):
    stream = io.BytesIO(data)
    try:
        value = cbor2.load(stream)
    except Exception as exc:  # cbor2 raises several classes; one for us
        raise DecodeError("invalid CBOR: %s" % exc)
    # cbor2 ignores trailing bytes; the portable codec (and we) do not.
    if stream.tell() != len(data):
        raise DecodeError("extra bytes after CBOR value")
    return value
