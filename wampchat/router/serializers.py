"""
The serializers the router speaks: Autobahn's, with JSON decoding on the fast
path, JavaScript ``undefined`` in options read as "not given", and refusing
what not every peer could receive.

Autobahn's JSON decoder swaps in a Python string parser (to turn WAMP's
``"\\u0000..."`` base64 strings into bytes), which makes ``json.loads`` run in
pure Python. A message that contains no escaped NUL cannot hold such a
string, so it is parsed by the C decoder; anything else still goes through
Autobahn's.

JavaScript clients such as wampy.js put ``undefined`` into the options of
SUBSCRIBE, HELLO, YIELD and others for every option they leave unset
(``{match: undefined, get_retained: undefined}``). ``JSON.stringify`` drops
those keys, but MessagePack (msgpackr, notepack: the 1-byte ext type 0,
``d4 00 00``) and CBOR (simple value 23, ``f7``) encode them. We read
them as ``JSON.stringify`` would: an undefined value is dropped from the
options/details dict and payload maps (at any depth) and is null in
payload lists. The MessagePack decoder reports an undefined
through its ``ext_hook`` (called only for ext values), and the CBOR one is
looked for only when the payload holds an ``f7`` byte at all.

The router passes what one peer sends to peers speaking other serializers,
so an incoming message may hold only values all three can carry: map keys
that are strings (as WAMP requires), integers in the 64-bit range
(MessagePack's), finite floats (JSON has no NaN or infinity: browsers
cannot parse them), valid Unicode, and no CBOR tags or MessagePack
extension types. Anything else is a
protocol error (ABORT) at the sender, instead of a message that fails at,
or breaks, every recipient.

IDs (request, session, subscription, registration) are read liberally:
wampy.js over CBOR (cbor-x) encodes every integer above 2**32 as a float64,
so a session id in ``eligible``/``exclude`` or a subscription id in
UNSUBSCRIBE arrives as ``1234.0``. Right after decoding, a float at an ID's
place that is a whole number in (0, 2**53] becomes that integer; any other
float is left for Autobahn's parser to refuse (a protocol violation).
"""
import base64
import json
import math

import cbor2
import msgpack
from autobahn.wamp.serializer import (
    CBORObjectSerializer, CBORSerializer, JsonObjectSerializer, JsonSerializer, MsgPackObjectSerializer,
    MsgPackSerializer,
)

from wampchat.router.ids import MAX_ID

_ESCAPED_NUL = b"\\u0000"
_ESCAPED_SURROGATE, _ESCAPED_SURROGATE_UPPER = b"\\ud", b"\\uD"
_INT_MIN, _INT_MAX = -2**63, 2**64 - 1

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

# Where each WAMP message type keeps IDs (WAMP spec §§ 4-14); ERROR's [1] is a message type, not an ID.
ID_POSITIONS = {
    2: (1,),      # WELCOME      [2, Session, ...]
    8: (2,),      # ERROR        [8, Type, Request, ...]
    16: (1,),     # PUBLISH      [16, Request, ...]
    17: (1, 2),   # PUBLISHED    [17, Request, Publication]
    32: (1,),     # SUBSCRIBE    [32, Request, ...]
    33: (1, 2),   # SUBSCRIBED   [33, Request, Subscription]
    34: (1, 2),   # UNSUBSCRIBE  [34, Request, Subscription]
    35: (1,),     # UNSUBSCRIBED [35, Request]
    36: (1, 2),   # EVENT        [36, Subscription, Publication, ...]
    48: (1,),     # CALL         [48, Request, ...]
    49: (1,),     # CANCEL       [49, Request, ...]
    50: (1,),     # RESULT       [50, Request, ...]
    64: (1,),     # REGISTER     [64, Request, ...]
    65: (1, 2),   # REGISTERED   [65, Request, Registration]
    66: (1, 2),   # UNREGISTER   [66, Request, Registration]
    67: (1,),     # UNREGISTERED [67, Request]
    68: (1, 2),   # INVOCATION   [68, Request, Registration, ...]
    69: (1,),     # INTERRUPT    [69, Request, ...]
    70: (1,),     # YIELD        [70, Request, ...]
}
_PUBLISH = 16
_SESSION_LIST_OPTIONS = ("exclude", "eligible")  # PUBLISH options that list session ids


def as_id(value):
    """``value`` as an int when it is a float that names a WAMP ID (a whole number in (0, 2**53]);
    anything else unchanged, for the caller's check to refuse."""
    if type(value) is float and 0 < value <= MAX_ID and value.is_integer():
        return int(value)
    return value


def ids_as_integers(raw_msg):
    """Turn integral-float IDs of a decoded message into integers, in place (see the module docstring).

    Anything that is not a well-formed message is left alone for Autobahn's
    parser to reject with its usual reason.
    """
    if type(raw_msg) is not list or not raw_msg or type(raw_msg[0]) is not int:
        return
    positions = ID_POSITIONS.get(raw_msg[0])
    if positions is None:
        return
    for position in positions:
        if position < len(raw_msg) and type(raw_msg[position]) is float:
            raw_msg[position] = as_id(raw_msg[position])
    if raw_msg[0] == _PUBLISH and len(raw_msg) > 2 and type(raw_msg[2]) is dict:
        _session_lists_as_integers(raw_msg[2])


def _session_lists_as_integers(options):
    for key in _SESSION_LIST_OPTIONS:
        sessions = options.get(key)
        if type(sessions) is list and any(type(s) is float for s in sessions):
            options[key] = [as_id(s) for s in sessions]


def _checked(msgs):
    """Every decoded message checked portable, then its IDs read as integers; returns ``msgs``."""
    for msg in msgs:
        check_portable(msg)
        ids_as_integers(msg)
    return msgs


# msgpackr's and notepack's encoding of JavaScript undefined.
MSGPACK_UNDEFINED = msgpack.ExtType(0, b"\x00")
_CBOR_UNDEFINED_BYTE = b"\xf7"


def _is_msgpack_undefined(value):
    return type(value) is msgpack.ExtType and value == MSGPACK_UNDEFINED


def _is_cbor_undefined(value):
    return value is cbor2.undefined


def _without_undefined(value, is_undefined):
    """``value`` as ``JSON.stringify`` would leave it: undefined dropped from maps, null in lists."""
    if type(value) is dict:
        return {key: _without_undefined(item, is_undefined) for key, item in value.items() if not is_undefined(item)}
    if type(value) is list:
        return [None if is_undefined(item) else _without_undefined(item, is_undefined) for item in value]
    return value


def drop_undefined(raw_msg, is_undefined):
    """Read undefined in a decoded message as JavaScript's JSON would, in place: absent in the
    options/details dict and in payload maps, null in payload lists.

    Anything that is not a well-formed message is left alone for Autobahn's
    parser to reject with its usual reason.
    """
    if type(raw_msg) is not list or not raw_msg:
        return
    index = DETAILS_INDEX.get(raw_msg[0])
    if index is None or index >= len(raw_msg) or type(raw_msg[index]) is not dict:
        return
    for position in range(index, len(raw_msg)):
        if type(raw_msg[position]) in (dict, list):
            raw_msg[position] = _without_undefined(raw_msg[position], is_undefined)


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
            objects = _checked(super().unserialize(payload))
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


class RouterJsonSerializer(JsonSerializer):
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

    def _ext_hook(self, code, data):
        if code == 0 and data == b"\x00":
            self._saw_undefined = True
        return msgpack.ExtType(code, data)

    def unserialize(self, payload):
        if self._batched:  # rare; Autobahn's batch framing, then a look at every message
            msgs = super().unserialize(payload)
            for msg in msgs:
                drop_undefined(msg, _is_msgpack_undefined)
            return _checked(msgs)
        self._saw_undefined = False
        msg = msgpack.unpackb(payload, raw=False, ext_hook=self._ext_hook)
        if self._saw_undefined:
            drop_undefined(msg, _is_msgpack_undefined)
        return _checked([msg])


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
        return _checked(msgs)


class RouterMsgPackSerializer(MsgPackSerializer):
    """``wamp.2.msgpack``: undefined options absent; extension types and non-string map keys refused."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _MsgPackObjectSerializer(batched=batched)


class RouterCborSerializer(CBORSerializer):
    """``wamp.2.cbor``: undefined options absent; tags (dates, sets, big numbers...), non-string map keys,
    NaN and infinity refused."""

    def __init__(self, batched=False):
        super().__init__(batched=batched)
        self._serializer = _CborObjectSerializer(batched=batched)


def wamp_serializers():
    """One instance of each serializer we speak, shared by every connection of a factory
    (so an EVENT serialized for one subscriber is reused for the rest)."""
    return [RouterJsonSerializer(), RouterMsgPackSerializer(), RouterCborSerializer()]
