"""
The serializers the router speaks: Autobahn's, with JSON decoding on the fast
path, JavaScript ``undefined`` in options read as "not given", and refusing
what not every peer could receive.

Autobahn's JSON decoder swaps in a Python string parser (to turn WAMP's
``"\\u0000..."`` base64 strings into bytes), which makes ``json.loads`` run in
pure Python. A message that contains no escaped NUL cannot hold such a
string, so it is parsed by the C decoder; anything else still goes through
Autobahn's.

What a decoded message may hold (portable values only, IDs as integers, JavaScript ``undefined``
dropped) is read by incoming_values.py, which every serializer here calls after decoding.
"""
import base64
import json
import math
import re

import cbor2
import msgpack
from autobahn.wamp import message
from autobahn.wamp.exception import ProtocolError
from autobahn.wamp.serializer import (
    CBORObjectSerializer, CBORSerializer, JsonObjectSerializer, JsonSerializer, MsgPackObjectSerializer,
    MsgPackSerializer,
)

from wampchat.router.incoming_calls import CALL_PARSERS
from wampchat.router.incoming_hello import parse_hello
from wampchat.router.incoming_values import INT_MAX, INT_MIN, checked, drop_undefined, ids_as_integers

# the messages read without Autobahn's general parser when they have their everyday shape
FAST_PARSERS = {**CALL_PARSERS, message.Hello.MESSAGE_TYPE: parse_hello}

_ESCAPED_NUL = b"\\u0000"
_ESCAPED_SURROGATE, _ESCAPED_SURROGATE_UPPER = b"\\ud", b"\\uD"

# The first bytes of the MessagePack values a peer might not be able to receive: binary (a bytes map key),
# extension types, floats (NaN, infinity) and uint64 (above the signed 64-bit range). msgpack refuses map
# keys other than str and bytes by itself (strict_map_key). A payload without any of these bytes, which
# also appear inside strings, holds only portable values; one with them gets the full look.
_MAYBE_NOT_PORTABLE = re.compile(rb"[\xc4-\xcb\xcf\xd4-\xd8]")

# msgpackr's and notepack's encoding of JavaScript undefined.
MSGPACK_UNDEFINED = msgpack.ExtType(0, b"\x00")
_CBOR_UNDEFINED_BYTE = b"\xf7"


def _is_msgpack_undefined(value):
    return type(value) is msgpack.ExtType and value == MSGPACK_UNDEFINED


def _is_cbor_undefined(value):
    return value is cbor2.undefined


def _binary_as_string(obj):
    """WAMP's JSON convention for binary: a NUL then base64 (as Autobahn encodes it)."""
    if isinstance(obj, bytes):
        return "\x00" + base64.b64encode(obj).decode("ascii")
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


# Autobahn builds a new encoder per message; one shared encoder does the same work.
# allow_nan=False: a NaN from an in-process service fails its send instead of reaching a browser as "NaN".
# check_circular=False: no decoded message holds a cycle; one built by a service fails its send with
# RecursionError, as an unserializable value does (and each message is encoded a little faster).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False,
                            default=_binary_as_string)


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number every peer can read")


def _bounded_int(text):
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError("an integer outside the 64-bit range")
    return value


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a 64-bit float")
    return value


# The C scanner calls these only for NaN/Infinity literals, each integer and each float literal.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float)


class _LeanSerializer:
    """Autobahn's ``serialize``/``unserialize`` without its traffic statistics (a dozen float operations
    per message that nothing in the router reads), the checks on a message's shape kept; CALL and YIELD
    in their everyday shape are read by incoming_calls.py."""

    def serialize(self, msg):
        return msg.serialize(self._serializer), self._serializer.BINARY

    def unserialize(self, payload, isBinary=None):
        object_serializer = self._serializer
        if isBinary is not None and isBinary != object_serializer.BINARY:
            raise ProtocolError(f"invalid serialization of WAMP message (binary {isBinary}, "
                                f"but expected {object_serializer.BINARY})")
        try:
            raw_msgs = object_serializer.unserialize(payload)
        except Exception as e:
            raise ProtocolError(f"invalid serialization of WAMP message: {type(e).__name__} {e}")
        classes = self.MESSAGE_TYPE_MAP
        msgs = []
        for raw_msg in raw_msgs:
            if type(raw_msg) is not list:
                raise ProtocolError(f"invalid type {type(raw_msg)} for WAMP message")
            if not raw_msg:
                raise ProtocolError("missing message type in WAMP message")
            message_type = raw_msg[0]
            if type(message_type) is not int:
                raise ProtocolError(f"invalid type {type(message_type)} for WAMP message type")
            fast = FAST_PARSERS.get(message_type)
            msg = fast(raw_msg) if fast is not None else None
            if msg is None:
                cls = classes.get(message_type)
                if cls is None:
                    raise ProtocolError(f"invalid WAMP message type {message_type}")
                msg = cls.parse(raw_msg)
            msgs.append(msg)
        return msgs


class _FastJsonObjectSerializer(JsonObjectSerializer):
    def serialize(self, obj):
        if self._batched:
            return super().serialize(obj)
        return _ENCODER.encode(obj).encode("utf-8")

    def unserialize(self, payload):
        if self._batched or _ESCAPED_NUL in payload:
            objects = checked(super().unserialize(payload))
        else:
            # decode first: json.loads(bytes) would also take UTF-16/32 and UTF-8-encoded surrogates
            objects = [_DECODER.decode(payload.decode("utf-8"))]
            ids_as_integers(objects[0])  # the decoder's own hooks already refused what is not portable
        if _ESCAPED_SURROGATE in payload or _ESCAPED_SURROGATE_UPPER in payload:
            _refuse_lone_surrogates(objects)
        return objects


def _refuse_lone_surrogates(objects):
    """A ``"\\\\ud800"`` escape without its pair decodes to a str no peer could be sent (UnicodeEncodeError
    in every serializer), so such a message is refused as it arrives rather than failing each recipient."""
    try:
        _ENCODER.encode(objects).encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"a JSON string holds an unpaired surrogate escape: {e.reason}") from None


class RouterJsonSerializer(_LeanSerializer, JsonSerializer):
    """``wamp.2.json`` with the fast decoder."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _FastJsonObjectSerializer(batched=batched)


class _MsgPackObjectSerializer(MsgPackObjectSerializer):
    """Autobahn's MessagePack decoding, plus: undefined in options is absent, and only portable values pass.

    The ``ext_hook`` sees every ext value (and only those), so it notes an
    undefined and returns the value unchanged, exactly as msgpack would
    without a hook; only then are the message's options cleaned.
    """

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._saw_undefined = False
        # one Packer for every message (msgpack.packb makes a new one per call, which costs more than
        # the packing); the router serializes on the reactor thread only
        self._packer = msgpack.Packer(use_bin_type=True, autoreset=True)

    def serialize(self, obj):
        if self._batched:
            return super().serialize(obj)
        return self._packer.pack(obj)

    def _ext_hook(self, code, data):
        if code == 0 and data == b"\x00":
            self._saw_undefined = True
        return msgpack.ExtType(code, data)

    def unserialize(self, payload):
        if self._batched:  # rare; Autobahn's batch framing, then a look at every message
            msgs = super().unserialize(payload)
            for msg in msgs:
                drop_undefined(msg, _is_msgpack_undefined)
            return checked(msgs)
        self._saw_undefined = False
        msg = msgpack.unpackb(payload, raw=False, ext_hook=self._ext_hook)
        if self._saw_undefined:
            drop_undefined(msg, _is_msgpack_undefined)
        if _MAYBE_NOT_PORTABLE.search(payload) is None:
            return [msg]   # nothing in it can be unportable, and no ID can be a float: see _MAYBE_NOT_PORTABLE
        return checked([msg])


class _CborObjectSerializer(CBORObjectSerializer):
    """Autobahn's CBOR decoding, plus: undefined in options is absent, and only portable values pass.

    cbor2 has no hook for simple values, so the payload is searched for the
    ``f7`` byte first (a C-speed scan); a false hit (the byte inside a number
    or a byte string) only costs a look at the options dict.
    """

    def unserialize(self, payload):
        msgs = super().unserialize(payload)
        if _CBOR_UNDEFINED_BYTE in payload:
            for msg in msgs:
                drop_undefined(msg, _is_cbor_undefined)
        return checked(msgs)


class RouterMsgPackSerializer(_LeanSerializer, MsgPackSerializer):
    """``wamp.2.msgpack``: undefined options absent; extension types and non-string map keys refused."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _MsgPackObjectSerializer(batched=batched)


class RouterCborSerializer(_LeanSerializer, CBORSerializer):
    """``wamp.2.cbor``: undefined options absent; tags (dates, sets, big numbers...), non-string map keys,
    NaN and infinity refused."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _CborObjectSerializer(batched=batched)


def wamp_serializers():
    """One instance of each serializer we speak, shared by every connection of a factory
    (so an EVENT serialized for one subscriber is reused for the rest)."""
    return [RouterJsonSerializer(), RouterMsgPackSerializer(), RouterCborSerializer()]
