"""
Reading a delivery's method arguments and content header directly, as :mod:`wampchat.amqp.receiving` needs.

A content header of the basic class with at most 15 properties (every
message RabbitMQ sends) is read here, by a layout made once per distinct set
of property flags; anything else goes to txamqp's codec
(:func:`wampchat.amqp.frames._decode_header`). Properties come out by our
names (``content_type`` for content-type), the names a Delivery keeps them by.
"""
import struct
from functools import lru_cache
from io import BytesIO
from typing import Dict, Tuple

from wampchat.amqp.frames import (_CONTENT_HEADER_HEAD, _OCTET, _SHORTSTR, _TIMESTAMP, BASIC_PROPERTIES, CLASS_BASIC,
                                   TableCodec, _decode_header)

_LENGTH = struct.Struct("!I")
_QUAD = struct.Struct("!Q")


def read_shortstr(data, pos):
    """The short string at ``pos`` and the position after it."""
    size = data[pos]
    return data[pos + 1:pos + 1 + size].decode("utf-8"), pos + 1 + size


def _read_table(data, pos):
    """A field table at ``pos``: text values read directly, anything else by :class:`TableCodec`."""
    (size,) = _LENGTH.unpack_from(data, pos)
    start, end, table = pos + 4, pos + 4 + size, {}
    at = start
    while at < end:
        key, at = read_shortstr(data, at)
        if data[at:at + 1] != b"S":
            c = TableCodec(BytesIO(data[pos:end]))
            return c.decode_table(), end
        (value_size,) = _LENGTH.unpack_from(data, at + 1)
        table[key] = data[at + 5:at + 5 + value_size].decode("utf-8")
        at += 5 + value_size
    return table, end


@lru_cache(maxsize=256)  # a sender uses one or two flag sets
def _layout(flags: int) -> Tuple[Tuple[str, str], ...]:
    """The properties present under ``flags``, in wire order: (our name, kind) each."""
    return tuple(prop for bit, prop in enumerate(BASIC_PROPERTIES) if flags & (1 << (15 - bit)))


def decode_basic_header(spec, data) -> Tuple[int, Dict[str, object]]:
    """``(body size, properties by our names)`` of a content header frame's payload."""
    klass, _weight, size, flags = _CONTENT_HEADER_HEAD.unpack_from(data, 0)
    if klass != CLASS_BASIC or flags & 1:
        header = _decode_header(spec, data)
        return header.size, {name.replace("-", "_"): value for name, value in header.properties.items()}
    pos, properties = 14, {}
    for name, kind in _layout(flags):
        if kind == _SHORTSTR:
            properties[name], pos = read_shortstr(data, pos)
        elif kind == _OCTET:
            properties[name] = data[pos]
            pos += 1
        elif kind == _TIMESTAMP:
            (properties[name],) = _QUAD.unpack_from(data, pos)
            pos += 8
        else:
            properties[name], pos = _read_table(data, pos)
    return size, properties
