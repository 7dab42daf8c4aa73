"""
The serializers the router speaks: Autobahn's, with JSON decoding on the fast path.

Autobahn's JSON decoder swaps in a Python string parser (to turn WAMP's
``"\\u0000..."`` base64 strings into bytes), which makes ``json.loads`` run in
pure Python. A message that contains no escaped NUL cannot hold such a
string, so it is parsed by the C decoder; anything else still goes through
Autobahn's.
"""
import json

from autobahn.wamp.serializer import CBORSerializer, JsonObjectSerializer, JsonSerializer, MsgPackSerializer

_ESCAPED_NUL = b"\\u0000"


class _FastJsonObjectSerializer(JsonObjectSerializer):
    def unserialize(self, payload):
        if self._batched or _ESCAPED_NUL in payload:
            return super().unserialize(payload)
        return [json.loads(payload)]


class RouterJsonSerializer(JsonSerializer):
    """``wamp.2.json`` with the fast decoder."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _FastJsonObjectSerializer(batched=batched)


def wamp_serializers():
    """One instance of each serializer we speak, shared by every connection of a factory
    (so an EVENT serialized for one subscriber is reused for the rest)."""
    return [RouterJsonSerializer(), MsgPackSerializer(), CBORSerializer()]
