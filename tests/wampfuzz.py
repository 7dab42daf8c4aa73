"""
Hypothesis strategies for WAMP messages with arbitrary field values and types, and the checks the
fuzz tests share (tests/test_fuzz_wamp.py).

A message is drawn from the shape of one WAMP message type (or an unknown
type): each field is usually of the right kind (an id, a dict of known
option names, a URI) with arbitrary values, and sometimes of any type at
all; fields may be missing or extra.
"""
import os

from autobahn.wamp.serializer import CBORObjectSerializer, JsonObjectSerializer, MsgPackObjectSerializer
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from twisted.logger import globalLogPublisher

# CI runs a fixed, derandomized set; WAMPCHAT_FUZZ_EXAMPLES=2000 WAMPCHAT_FUZZ_RANDOM=1 explores more locally.
EXAMPLES = int(os.environ.get("WAMPCHAT_FUZZ_EXAMPLES", "0")) or None


def fuzz_settings(examples):
    """Settings for one fuzz test: ``examples`` in CI, seeded (derandomized), no deadline, no example database."""
    return settings(max_examples=EXAMPLES or examples, deadline=None, database=None,
                    derandomize=not os.environ.get("WAMPCHAT_FUZZ_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


OBJECT_SERIALIZERS = {"json": JsonObjectSerializer, "msgpack": MsgPackObjectSerializer, "cbor": CBORObjectSerializer}
BINARY = {"json": False, "msgpack": True, "cbor": True}

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**63, max_value=2**64 - 1),
    st.sampled_from([0, 1, -1, 2**53, 2**53 + 1, 2**63, 2**64 - 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.binary(max_size=12),
)
ANY = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8) | st.integers(0, 9), inner,
                                                                 max_size=3),
    max_leaves=8,
)
# What a well-behaved client can send as arguments: values every serializer carries (string map keys,
# finite floats, 64-bit integers); the router refuses anything else, which the message fuzz covers.
PORTABLE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**63, max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), st.binary(max_size=12),
)
VALUES = st.recursive(
    PORTABLE_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
IDS = st.integers(0, 9).flatmap(lambda pick: st.sampled_from([0, 2**53, 2**53 + 1, -1, 2**63]) if pick == 7
                                else st.integers(min_value=1, max_value=2**53))
URI_SAMPLES = [
    "app.fuzz", "app.fuzz.x", "app", "app.", "app..x", ".app", "app. x", "App.Fuzz", "app.#", "app.x" * 60,
    "wamp.session.count", "wamp.session.get", "wamp.session.list", "wamp.session.on_join", "wamp.fuzz",
    "wamp.error.fuzz", "wamp.close.normal", "chat.room.join", "chat.room.lobby.message", "svc.fuzz", "",
    "wampchat", "nosuchrealm",
]
URIS = st.one_of(st.sampled_from(URI_SAMPLES), st.text(max_size=20))
OPTION_NAMES = [
    "acknowledge", "exclude_me", "exclude", "eligible", "exclude_authid", "eligible_authid", "exclude_authrole",
    "eligible_authrole", "match", "invoke", "timeout", "receive_progress", "disclose_me", "mode", "progress",
    "roles", "authmethods", "authid", "authextra", "authrole", "message", "caller", "publisher", "topic",
]
OPTION_VALUES = st.one_of(ANY, st.sampled_from(["prefix", "wildcard", "exact", "kill", "skip", "killnowait",
                                                "roundrobin", "random", "single", "first", "last",
                                                ["anonymous"], ["ticket"], ["wampcra"], {"nick": "Fuzz"}]))
DICTS = st.dictionaries(st.sampled_from(OPTION_NAMES), OPTION_VALUES, max_size=3)
HELLO_DETAILS = st.fixed_dictionaries(
    {"roles": st.one_of(st.just({"caller": {}, "subscriber": {}}), ANY)},
    optional={"authmethods": st.one_of(st.lists(st.sampled_from(["anonymous", "ticket", "wampcra", "cryptosign"]),
                                                 max_size=2), ANY),
              "authid": st.one_of(st.text(max_size=10), ANY), "authextra": st.one_of(DICTS, ANY)},
)
TYPES = st.one_of(st.sampled_from([1, 2, 3, 4, 5, 6, 8, 16, 17, 32, 33, 34, 35, 36, 48, 49, 50, 64, 65, 66, 67,
                                   68, 69, 70]), st.integers(-5, 300))
KINDS = {
    "id": IDS, "dict": DICTS, "uri": URIS, "str": st.text(max_size=16), "args": st.lists(ANY, max_size=3),
    "kwargs": st.dictionaries(st.text(max_size=8), ANY, max_size=3), "type": TYPES, "hello": HELLO_DETAILS,
}

# The WAMP message shapes (wamp-proto.org, basic + advanced profile); optional trailing fields last.
SHAPES = {
    1: ["uri", "hello"], 2: ["id", "dict"], 3: ["dict", "uri"], 4: ["str", "dict"], 5: ["str", "dict"],
    6: ["dict", "uri"], 8: ["type", "id", "dict", "uri", "args", "kwargs"], 16: ["id", "dict", "uri", "args", "kwargs"],
    17: ["id", "id"], 32: ["id", "dict", "uri"], 33: ["id", "id"], 34: ["id", "id"], 35: ["id"],
    36: ["id", "id", "dict", "args", "kwargs"], 48: ["id", "dict", "uri", "args", "kwargs"], 49: ["id", "dict"],
    50: ["id", "dict", "args", "kwargs"], 64: ["id", "dict", "uri"], 65: ["id", "id"], 66: ["id", "id"],
    67: ["id"], 68: ["id", "id", "dict", "args", "kwargs"], 69: ["id", "dict"], 70: ["id", "dict", "args", "kwargs"],
}
NAMES = {1: "HELLO", 2: "WELCOME", 3: "ABORT", 4: "CHALLENGE", 5: "AUTHENTICATE", 6: "GOODBYE", 8: "ERROR",
         16: "PUBLISH", 17: "PUBLISHED", 32: "SUBSCRIBE", 33: "SUBSCRIBED", 34: "UNSUBSCRIBE", 35: "UNSUBSCRIBED",
         36: "EVENT", 48: "CALL", 49: "CANCEL", 50: "RESULT", 64: "REGISTER", 65: "REGISTERED", 66: "UNREGISTER",
         67: "UNREGISTERED", 68: "INVOCATION", 69: "INTERRUPT", 70: "YIELD"}


def _field(draw, kind):
    """Nine times in ten a value of the right kind, else a value of any type (so most messages get past
    parsing and reach the broker, dealer and authorizer)."""
    return draw(ANY if draw(st.integers(0, 9)) == 7 else KINDS[kind])  # (Hypothesis favours 0 and the maximum)


@st.composite
def wamp_messages(draw, types=None):
    """A list ``[type, fields...]``: a known shape with arbitrary fields, or an unknown type with any fields."""
    unknown = not types and draw(st.integers(0, 9)) == 7
    code = draw(st.integers(-3, 300) if unknown else st.sampled_from(sorted(types or SHAPES)))
    shape = SHAPES.get(code)
    if shape is None:
        return [code] + draw(st.lists(ANY, max_size=4))
    fields = [_field(draw, kind) for kind in shape]
    cut = draw(st.integers(0, 7))
    if cut == 3 and len(fields) > 1:
        fields = fields[:draw(st.integers(0, len(fields) - 1))]  # missing fields
    elif cut == 5:
        fields += draw(st.lists(ANY, min_size=1, max_size=2))  # extra fields
    return [code] + fields


def encode(serializer, msg):
    """The bytes a peer speaking ``serializer`` would send for ``msg``, or None when it cannot encode it."""
    try:
        return OBJECT_SERIALIZERS[serializer]().serialize(msg)
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return None


REPLIES = {16: 17, 32: 33, 34: 35, 48: 50, 64: 65, 66: 67}


def needs_reply(msg):
    """``(request id, reply type)`` of a request the router must answer (reply or ERROR), or None.

    A PUBLISH needs one only with ``acknowledge: true``. A request the router
    finds malformed is answered with ABORT instead, which the tests accept.
    """
    code = msg[0] if msg else None
    if code not in REPLIES or len(msg) < 2 or not isinstance(msg[1], int) or isinstance(msg[1], bool):
        return None
    if code == 16 and not (len(msg) > 2 and isinstance(msg[2], dict) and msg[2].get("acknowledge") is True):
        return None
    return msg[1], REPLIES[code]


class LoggedFailures:
    """Collects every failure, error/critical event and undeliverable message logged through twisted.logger."""

    def __init__(self):
        self.events = []

    def __call__(self, event):
        level = getattr(event.get("log_level"), "name", "")
        undelivered = str(event.get("log_format", "")).startswith("could not send")  # RouterSession.send
        if "log_failure" in event or level in ("error", "critical") or undelivered:
            self.events.append(event)

    def __enter__(self):
        globalLogPublisher.addObserver(self)
        return self

    def __exit__(self, *exc):
        globalLogPublisher.removeObserver(self)

    def take(self):
        """The formatted failures since the last take (empty when all went well)."""
        from twisted.logger import formatEvent

        out = []
        for event in self.events:
            failure = event.get("log_failure")
            out.append(formatEvent(event) + ("\n" + failure.getTraceback() if failure is not None else ""))
        self.events = []
        return out
