"""
The serializers the router speaks: Autobahn's, with JSON decoding on the fast path.

Autobahn's JSON decoder swaps in a Python string parser (to turn WAMP's
``"\\u0000..."`` base64 strings into bytes), which makes ``json.loads`` run in
pure Python. A message that contains no escaped NUL cannot hold such a
string, so it is parsed by the C decoder; anything else still goes through
Autobahn's.
"""
import base64
import json

from autobahn.wamp.serializer import CBORSerializer, JsonObjectSerializer, JsonSerializer, MsgPackSerializer

_ESCAPED_NUL = b"\\u0000"
_ESCAPED_SURROGATE, _ESCAPED_SURROGATE_UPPER = b"\\ud", b"\\uD"


def _binary_as_string(obj):
    """WAMP's JSON convention for binary: a NUL then base64 (as Autobahn encodes it)."""
    if isinstance(obj, bytes):
        return "\x00" + base64.b64encode(obj).decode("ascii")
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


# Autobahn builds a new encoder per message; one shared encoder does the same work.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_binary_as_string)


class _FastJsonObjectSerializer(JsonObjectSerializer):
    def serialize(self, obj):
        if self._batched:
            return super().serialize(obj)
        return _ENCODER.encode(obj).encode("utf-8")

    def unserialize(self, payload):
        if self._batched or _ESCAPED_NUL in payload:
            objects = super().unserialize(payload)
        else:
            # decode first: json.loads(bytes) would also take UTF-16/32 and UTF-8-encoded surrogates
            objects = [json.loads(payload.decode("utf-8"))]
        if _ESCAPED_SURROGATE in payload or _ESCAPED_SURROGATE_UPPER in payload:
            _refuse_lone_surrogates(objects)
        return objects


def _refuse_lone_surrogates(objects):
    """A ``"\\ud800"`` escape without its pair decodes to a str no peer could be sent (UnicodeEncodeError
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


def wamp_serializers():
    """One instance of each serializer we speak, shared by every connection of a factory
    (so an EVENT serialized for one subscriber is reused for the rest)."""
    return [RouterJsonSerializer(), MsgPackSerializer(), CBORSerializer()]
