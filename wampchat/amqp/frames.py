"""
Complete AMQP framing for txamqp 0.8.2.

txamqp's codec reads only four field-table types (S, I, F, t) and writes
every non-string as a 32-bit ``I``; it counts a string's characters, not its
UTF-8 bytes; and it decodes a message body as text whenever it happens to be
UTF-8. Each of those breaks a frame, and a broken frame drops the connection
and makes the broker redeliver the same message forever. ``CompleteFrames``
replaces the client's frame packing and unpacking with a codec that handles
all of RabbitMQ's field types, UTF-8 lengths and binary bodies.
"""
import struct
from io import BytesIO

from txamqp import spec as txamqp_spec
from txamqp.codec import Codec
from txamqp.connection import Body, Frame, Header, Method


class TableCodec(Codec):
    """txamqp's codec, able to read and write every field-table type RabbitMQ and pika use.

    txamqp 0.8.2 reads only S, I, F and t; any other header type (pika sends
    ints as ``l``, bytes as ``x``, floats as ``d``) would break the frame and
    the connection, and the broker would redeliver the same message forever.
    It writes every non-string as a 32-bit ``I``, so booleans and nested
    tables (client capabilities) need the encoder below.
    """

    def enc_str(self, fmt, s):
        # txamqp takes the length before encoding, so any non-ASCII text made a corrupt frame
        data = s if isinstance(s, bytes) else s.encode("utf-8")
        self.pack(fmt, len(data))
        self.write(data)

    def encode_table(self, tbl):
        inner = TableCodec(BytesIO())
        for key, value in tbl.items():
            inner.encode_shortstr(key)
            inner._encode_field(value)
        inner.flush()
        data = inner.stream.getvalue()
        self.encode_long(len(data))
        self.write(data)

    def _encode_field(self, value):
        if isinstance(value, bool):
            self.write(b"t")
            self.encode_octet(int(value))
        elif isinstance(value, int):
            self.write(b"l")
            self.pack("!q", value)
        elif isinstance(value, float):
            self.write(b"d")
            self.pack("!d", value)
        elif isinstance(value, str):
            self.write(b"S")
            self.enc_str("!L", value)
        elif isinstance(value, (bytes, bytearray)):
            self.write(b"x")
            self.enc_bytes("!L", bytes(value))
        elif isinstance(value, dict):
            self.write(b"F")
            self.encode_table(value)
        elif value is None:
            self.write(b"V")
        else:
            raise TypeError(f"cannot put a {type(value).__name__} into an AMQP table")

    def decode_table(self):
        size = self.decode_long()
        start = self.nread
        result = {}
        while self.nread - start < size:
            key = self.decode_shortstr()
            result[key] = self._decode_field()
        return result

    def _decode_field(self):
        kind = self.read(1)
        simple = {b"b": "!b", b"B": "!B", b"s": "!h", b"u": "!H", b"I": "!i", b"i": "!I",
                  b"l": "!q", b"L": "!Q", b"f": "!f", b"d": "!d", b"T": "!Q"}
        if kind in simple:
            return self.unpack(simple[kind])
        if kind == b"t":
            return self.decode_octet() != 0
        if kind == b"S":
            return self.decode_longstr()
        if kind == b"x":
            return self.dec_bytes("!L")
        if kind == b"F":
            return self.decode_table()
        if kind == b"V":
            return None
        if kind == b"D":
            scale = self.decode_octet()
            return self.unpack("!i") / (10 ** scale)
        if kind == b"A":
            size = self.decode_long()
            start, items = self.nread, []
            while self.nread - start < size:
                items.append(self._decode_field())
            return items
        raise ValueError(f"unknown AMQP field type {kind!r}")


def _encode_method(payload):
    c = TableCodec(BytesIO())
    c.encode_short(payload.method.klass.id)
    c.encode_short(payload.method.id)
    for field, arg in zip(payload.method.fields, payload.args):
        c.encode(field.type, arg)
    c.flush()
    return c.stream.getvalue()


def _decode_method(spec, data):
    c = TableCodec(BytesIO(data))
    klass = spec.classes.byid[c.decode_short()]
    method = klass.methods.byid[c.decode_short()]
    return Method(method, *[c.decode(f.type) for f in method.fields])


def _encode_header(payload):
    c = TableCodec(BytesIO())
    fields = payload.klass.fields.items
    c.encode_short(payload.klass.id)
    c.encode_short(payload.weight)
    c.encode_longlong(payload.size)
    present = [payload.properties.get(f.name) is not None for f in fields]
    for start in range(0, max(len(fields), 1), 15):  # 15 flags per short; bit 0 says "more follow"
        flags = 0
        for i, bit in enumerate(present[start:start + 15]):
            if bit:
                flags |= 1 << (15 - i)
        if start + 15 < len(fields):
            flags |= 1
        c.encode_short(flags)
    for f, bit in zip(fields, present):
        if bit:
            c.encode(f.type, payload.properties[f.name])
    c.flush()
    return c.stream.getvalue()


def _decode_header(spec, data):
    c = TableCodec(BytesIO(data))
    klass = spec.classes.byid[c.decode_short()]
    weight = c.decode_short()
    size = c.decode_longlong()
    bits = []
    for _ in range(8):  # at most 8 flag words (120 properties); basic has 14
        flags = c.decode_short()
        bits += [bool(flags >> i & 1) for i in range(15, 0, -1)]
        if not flags & 1:
            break
    properties = {str(f.name): c.decode(f.type) for bit, f in zip(bits, klass.fields) if bit}
    return Header(klass, weight, size, **properties)


class CompleteFrames:
    """Mixed into txamqp's AMQClient: frames packed and unpacked with :class:`TableCodec`."""

    # txamqp's Method and Header payloads build their own stock Codec; these do the same
    # work with TableCodec, so field tables in methods and message headers are complete.
    def _pack_frame(self, frame):
        c = TableCodec(BytesIO())
        c.encode_octet(self.spec.constants.bypyname[frame.payload.type].id)
        c.encode_short(frame.channel)
        payload = frame.payload
        if isinstance(payload, Method):
            c.encode_longbytes(_encode_method(payload))
        elif isinstance(payload, Header):
            c.encode_longbytes(_encode_header(payload))
        else:
            payload.encode(c)
        c.encode_octet(self.FRAME_END)
        c.flush()
        return c.stream.getvalue()

    def _unpack_frame(self, data):
        c = TableCodec(BytesIO(data))
        frame_type = txamqp_spec.pythonize(self.spec.constants.byid[c.decode_octet()].name)
        channel = c.decode_short()
        if frame_type == "frame_body":
            payload = Body(c.dec_bytes("!L"))  # txamqp would decode it as text when it happens to be UTF-8
        elif frame_type == "frame_method":
            payload = _decode_method(self.spec, c.decode_longbytes())
        elif frame_type == "frame_header":
            payload = _decode_header(self.spec, c.decode_longbytes())
        else:
            payload = Frame.DECODERS[frame_type].decode(self.spec, c)
        if c.decode_octet() != self.FRAME_END:
            raise ValueError("AMQP frame does not end with frame-end")
        return Frame(channel, payload)


# -- basic.publish, the one frame sequence on the hot path ------------------------------
# txamqp builds a Method, a Header and a Body object per message, queues each
# as a Frame, and packs each with a codec over a BytesIO: most of the cost of
# mirroring a publication. The bytes are simple enough to pack directly.

# the frame layout, shared with :mod:`wampchat.amqp.receiving`
FRAME_HEAD = struct.Struct("!BHI")             # type, channel, payload size
FRAME_END = 0xCE
FRAME_METHOD, FRAME_HEADER, FRAME_BODY = 1, 2, 3
CLASS_BASIC = 60
_PUBLISH, _ACK, _REJECT = 40, 80, 90
_CONTENT_HEADER_HEAD = struct.Struct("!HHQH")  # class, weight, body size, first property flags
_END = bytes((FRAME_END,))
_SHORTSTR, _OCTET, _TIMESTAMP, _TABLE = "shortstr", "octet", "timestamp", "table"
# basic's properties in spec order (flag bit 15 first), by our names (``content_type`` for content-type)
BASIC_PROPERTIES = (("content_type", _SHORTSTR), ("content_encoding", _SHORTSTR), ("headers", _TABLE),
                    ("delivery_mode", _OCTET), ("priority", _OCTET), ("correlation_id", _SHORTSTR),
                    ("reply_to", _SHORTSTR), ("expiration", _SHORTSTR), ("message_id", _SHORTSTR),
                    ("timestamp", _TIMESTAMP), ("type", _SHORTSTR), ("user_id", _SHORTSTR), ("app_id", _SHORTSTR),
                    ("reserved", _SHORTSTR))  # cluster-id in AMQP 0-9-1; the spec file calls it "reserved"


def _shortstr(value):
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    if len(data) > 255:
        raise ValueError(f"AMQP short string longer than 255 bytes: {data[:40]!r}...")
    return bytes((len(data),)) + data


def _table(value):
    """Field tables of text values (our headers) packed directly; anything else by :class:`TableCodec`."""
    if all(isinstance(v, str) for v in value.values()):
        parts = []
        for key, text in value.items():
            data = text.encode("utf-8")
            parts += (_shortstr(key), b"S", struct.pack("!I", len(data)), data)
        inner = b"".join(parts)
        return struct.pack("!I", len(inner)) + inner
    c = TableCodec(BytesIO())
    c.encode_table(value)
    c.flush()
    return c.stream.getvalue()


def _property(kind, value):
    if kind == _SHORTSTR:
        return _shortstr(value)
    if kind == _OCTET:
        return bytes((value,))
    if kind == _TIMESTAMP:
        return struct.pack("!Q", value)
    return _table(value)


def basic_publish_frames(channel, exchange, routing_key, body, properties, frame_max):
    """The bytes of basic.publish + content header + body frames, as txamqp would write them.

    ``properties`` uses our names (``message_id``); ``frame_max`` is the
    negotiated frame size (a body longer than it is split, as AMQP says).
    """
    method = (struct.pack("!HHH", CLASS_BASIC, _PUBLISH, 0) + _shortstr(exchange) + _shortstr(routing_key)
              + b"\x00")
    flags, props = 0, []
    for bit, (name, kind) in enumerate(BASIC_PROPERTIES):
        value = properties.get(name)
        if value is not None:
            flags |= 1 << (15 - bit)
            props.append(_property(kind, value))
    header = _CONTENT_HEADER_HEAD.pack(CLASS_BASIC, 0, len(body), flags) + b"".join(props)
    out = [FRAME_HEAD.pack(FRAME_METHOD, channel, len(method)), method, _END,
           FRAME_HEAD.pack(FRAME_HEADER, channel, len(header)), header, _END]
    chunk = frame_max - 8
    for start in range(0, len(body), chunk):
        piece = body[start:start + chunk]
        out += (FRAME_HEAD.pack(FRAME_BODY, channel, len(piece)), piece, _END)
    return b"".join(out)


_pack_settle = struct.Struct("!BHIHHQBB").pack


def basic_settle_frame(channel, delivery_tag, reject=False, flag=False):
    """basic.ack (``flag``: multiple) or basic.reject (``flag``: requeue) as bytes: one per delivery taken in."""
    return _pack_settle(FRAME_METHOD, channel, 13, CLASS_BASIC, _REJECT if reject else _ACK, delivery_tag,
                        int(flag), FRAME_END)
