"""
The serializers the router speaks: Autobahn's, with JSON decoding on the fast
path and JavaScript ``undefined`` in options read as "not given".

Autobahn's JSON decoder swaps in a Python string parser (to turn WAMP's
``"\\u0000..."`` base64 strings into bytes), which makes ``json.loads`` run in
pure Python. A message that contains no escaped NUL cannot hold such a
string, so it is parsed by the C decoder; anything else still goes through
Autobahn's.

JavaScript clients such as wampy.js put ``undefined`` into the options of
SUBSCRIBE, HELLO, YIELD and others for every option they leave unset
(``{match: undefined, get_retained: undefined}``). ``JSON.stringify`` drops
those keys, but MessagePack (msgpackr, notepack: the 1-byte ext type 0,
``d4 00 00``) and CBOR (simple value 23, ``f7``) encode them, and Autobahn's
option checks then reject the message as a protocol violation. We drop an
undefined value from a message's options/details dict (at any depth), as
``JSON.stringify`` would. Application payloads (args, kwargs) are left as
the client sent them. The check costs nothing on the common path: the
MessagePack decoder reports an undefined through its ``ext_hook`` (called
only for ext values), and the CBOR one only when the payload holds an
``f7`` byte at all (which UTF-8 text never contains).
"""
import base64
import json

import cbor2
import msgpack
from autobahn.wamp.serializer import (
    CBORObjectSerializer, CBORSerializer, JsonObjectSerializer, JsonSerializer, MsgPackObjectSerializer,
    MsgPackSerializer,
)

_ESCAPED_NUL = b"\\u0000"

# Where each WAMP message type keeps its options/details dict (WAMP spec §§ 4-14).
DETAILS_INDEX = {
    1: 2,    # HELLO        [1, Realm, Details]
    2: 2,    # WELCOME      [2, Session, Details]
    3: 1,    # ABORT        [3, Details, Reason]
    4: 2,    # CHALLENGE    [4, AuthMethod, Extra]
    5: 2,    # AUTHENTICATE [5, Signature, Extra]
    6: 1,    # GOODBYE      [6, Details, Reason]
    8: 3,    # ERROR        [8, Type, Request, Details, Error, ...]
    16: 2,   # PUBLISH      [16, Request, Options, Topic, ...]
    32: 2,   # SUBSCRIBE    [32, Request, Options, Topic]
    34: 3,   # UNSUBSCRIBE  [34, Request, Subscription, Options?]
    35: 2,   # UNSUBSCRIBED [35, Request, Details?]
    36: 3,   # EVENT        [36, Subscription, Publication, Details, ...]
    48: 2,   # CALL         [48, Request, Options, Procedure, ...]
    49: 2,   # CANCEL       [49, Request, Options]
    50: 2,   # RESULT       [50, Request, Details, ...]
    64: 2,   # REGISTER     [64, Request, Options, Procedure]
    66: 3,   # UNREGISTER   [66, Request, Registration, Options?]
    67: 2,   # UNREGISTERED [67, Request, Details?]
    68: 3,   # INVOCATION   [68, Request, Registration, Details, ...]
    69: 2,   # INTERRUPT    [69, Request, Options]
    70: 2,   # YIELD        [70, Request, Options, ...]
}

# msgpackr's and notepack's encoding of JavaScript undefined.
MSGPACK_UNDEFINED = msgpack.ExtType(0, b"\x00")
_CBOR_UNDEFINED_BYTE = b"\xf7"


def _is_msgpack_undefined(value):
    return type(value) is msgpack.ExtType and value == MSGPACK_UNDEFINED


def _is_cbor_undefined(value):
    return value is cbor2.undefined


def _without_undefined(details, is_undefined):
    """A copy of ``details`` without undefined values, nested dicts included."""
    return {
        key: _without_undefined(value, is_undefined) if type(value) is dict else value
        for key, value in details.items()
        if not is_undefined(value)
    }


def drop_undefined(raw_msg, is_undefined):
    """Remove undefined values from a decoded message's options/details dict, in place.

    Anything that is not a well-formed message is left alone for Autobahn's
    parser to reject with its usual reason.
    """
    if type(raw_msg) is not list or not raw_msg:
        return
    index = DETAILS_INDEX.get(raw_msg[0])
    if index is not None and index < len(raw_msg) and type(raw_msg[index]) is dict:
        raw_msg[index] = _without_undefined(raw_msg[index], is_undefined)


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
            return super().unserialize(payload)
        return [json.loads(payload)]


class _MsgPackObjectSerializer(MsgPackObjectSerializer):
    """Autobahn's MessagePack decoding, plus: undefined in options is absent.

    The ``ext_hook`` sees every ext value (and only those), so it notes an
    undefined and returns the value unchanged, exactly as msgpack would
    without a hook; only then are the message's options cleaned.
    """

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._saw_undefined = False

    def _ext_hook(self, code, data):
        if code == 0 and data == b"\x00":
            self._saw_undefined = True
        return msgpack.ExtType(code, data)

    def unserialize(self, payload):
        if self._batched:  # rare; Autobahn's batch framing, then a look at every message
            msgs = super().unserialize(payload)
            for msg in msgs:
                drop_undefined(msg, _is_msgpack_undefined)
            return msgs
        self._saw_undefined = False
        msg = msgpack.unpackb(payload, raw=False, ext_hook=self._ext_hook)
        if self._saw_undefined:
            drop_undefined(msg, _is_msgpack_undefined)
        return [msg]


class _CborObjectSerializer(CBORObjectSerializer):
    """Autobahn's CBOR decoding, plus: undefined in options is absent.

    cbor2 has no hook for simple values, so the payload is searched for the
    ``f7`` byte first (a C-speed scan); a false hit (the byte inside a number
    or a byte string) only costs a look at the options dict.
    """

    def unserialize(self, payload):
        msgs = super().unserialize(payload)
        if _CBOR_UNDEFINED_BYTE in payload:
            for msg in msgs:
                drop_undefined(msg, _is_cbor_undefined)
        return msgs


class RouterJsonSerializer(JsonSerializer):
    """``wamp.2.json`` with the fast decoder."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _FastJsonObjectSerializer(batched=batched)


class RouterMsgPackSerializer(MsgPackSerializer):
    """``wamp.2.msgpack`` that reads JavaScript undefined options as absent."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _MsgPackObjectSerializer(batched=batched)


class RouterCborSerializer(CBORSerializer):
    """``wamp.2.cbor`` that reads JavaScript undefined options as absent."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _CborObjectSerializer(batched=batched)


def wamp_serializers():
    """One instance of each serializer we speak, shared by every connection of a factory
    (so an EVENT serialized for one subscriber is reused for the rest)."""
    return [RouterJsonSerializer(), RouterMsgPackSerializer(), RouterCborSerializer()]
