"""
The serializers the router speaks: Autobahn's, with JSON decoding on the fast path, and refusing what
not every peer could receive.

Autobahn's JSON decoder swaps in a Python string parser (to turn WAMP's
``"\\u0000..."`` base64 strings into bytes), which makes ``json.loads`` run in
pure Python. A message that contains no escaped NUL cannot hold such a
string, so it is parsed by the C decoder; anything else still goes through
Autobahn's.

The router passes what one peer sends to peers speaking other serializers,
so an incoming message may hold only values all three can carry: map keys
that are strings (as WAMP requires), integers in the 64-bit range
(MessagePack's), finite floats (JSON has no NaN or infinity: browsers
cannot parse them), valid Unicode, and no CBOR tags or MessagePack
extension types. Anything else is a protocol error (ABORT) at the sender,
instead of a message that fails at, or breaks, every recipient.
"""
import base64
import json
import math

from autobahn.wamp.serializer import (CBORObjectSerializer, CBORSerializer, JsonObjectSerializer, JsonSerializer,
                                      MsgPackObjectSerializer, MsgPackSerializer)

_ESCAPED_NUL = b"\\u0000"
_ESCAPED_SURROGATE, _ESCAPED_SURROGATE_UPPER = b"\\ud", b"\\uD"
_INT_MIN, _INT_MAX = -2**63, 2**64 - 1


def _binary_as_string(obj):
    """WAMP's JSON convention for binary: a NUL then base64 (as Autobahn encodes it)."""
    if isinstance(obj, bytes):
        return "\x00" + base64.b64encode(obj).decode("ascii")
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


# Autobahn builds a new encoder per message; one shared encoder does the same work.
# allow_nan=False: a NaN from an in-process service fails its send instead of reaching a browser as "NaN".
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_binary_as_string)


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number every peer can read")


def _bounded_int(text):
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise ValueError("an integer outside the 64-bit range")
    return value


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a 64-bit float")
    return value


# The C scanner calls these only for NaN/Infinity literals, each integer and each float literal.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float)


def check_portable(value):
    """Raise ValueError unless JSON, MessagePack and CBOR peers can all receive ``value`` unchanged."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bool or value is None:
        return
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError("an integer outside the 64-bit range")
    elif kind is float:
        if not math.isfinite(value):
            raise ValueError("NaN or infinity")
    elif kind is list:
        for item in value:
            check_portable(item)
    elif kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError(f"a map key of type {type(key).__name__} (WAMP map keys are strings)")
            check_portable(item)
    else:
        raise ValueError(f"a value of type {kind.__name__} (a CBOR tag or MessagePack extension)")


class _FastJsonObjectSerializer(JsonObjectSerializer):
    def serialize(self, obj):
        if self._batched:
            return super().serialize(obj)
        return _ENCODER.encode(obj).encode("utf-8")

    def unserialize(self, payload):
        if self._batched or _ESCAPED_NUL in payload:
            objects = super().unserialize(payload)
            for obj in objects:
                check_portable(obj)
        else:
            # decode first: json.loads(bytes) would also take UTF-16/32 and UTF-8-encoded surrogates
            objects = [_DECODER.decode(payload.decode("utf-8"))]
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


class RouterJsonSerializer(JsonSerializer):
    """``wamp.2.json`` with the fast decoder."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _FastJsonObjectSerializer(batched=batched)


class _PortableMsgPackObjectSerializer(MsgPackObjectSerializer):
    def unserialize(self, payload):
        objects = super().unserialize(payload)
        for obj in objects:
            check_portable(obj)
        return objects


class _PortableCBORObjectSerializer(CBORObjectSerializer):
    def unserialize(self, payload):
        objects = super().unserialize(payload)
        for obj in objects:
            check_portable(obj)
        return objects


class RouterMsgPackSerializer(MsgPackSerializer):
    """``wamp.2.msgpack``, refusing extension types and non-string map keys."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _PortableMsgPackObjectSerializer(batched=batched)


class RouterCBORSerializer(CBORSerializer):
    """``wamp.2.cbor``, refusing tags (dates, sets, big numbers...), non-string map keys, NaN and infinity."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _PortableCBORObjectSerializer(batched=batched)


def wamp_serializers():
    """One instance of each serializer we speak, shared by every connection of a factory
    (so an EVENT serialized for one subscriber is reused for the rest)."""
    return [RouterJsonSerializer(), RouterMsgPackSerializer(), RouterCBORSerializer()]
