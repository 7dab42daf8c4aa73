"""
How the router reads a decoded WAMP message, whatever serializer it came in: only values every peer can
receive, IDs as integers, and JavaScript ``undefined`` as ``JSON.stringify`` would leave it. The
serializers (serializers.py) call these right after decoding.

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
import math

from wampchat.router.ids import MAX_ID

INT_MIN, INT_MAX = -2**63, 2**64 - 1  # the integers MessagePack can carry

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


def checked(msgs):
    """Every decoded message checked portable, then its IDs read as integers; returns ``msgs``."""
    for msg in msgs:
        check_portable(msg)
        ids_as_integers(msg)
    return msgs


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


def check_portable(value):
    """Raise ValueError unless JSON, MessagePack and CBOR peers can all receive ``value`` unchanged."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bool or value is None:
        return
    if kind is int:
        if not INT_MIN <= value <= INT_MAX:
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
