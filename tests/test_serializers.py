"""The router's serializers: JSON decodes exactly as Autobahn's does, only faster; MessagePack and CBOR
read a JavaScript undefined in options as an absent option; values not every peer can carry are refused."""
import datetime

import cbor2
import msgpack
import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import InvalidUriError, ProtocolError
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer

from wampchat.router.serializers import (
    MSGPACK_UNDEFINED, RouterCborSerializer, RouterJsonSerializer, RouterMsgPackSerializer, wamp_serializers,
)

MESSAGES = [
    message.Publish(1, "app.t", args=[1, "two", None, True, 2.5], kwargs={"k": [{"x": "ü ☃"}]}),
    message.Publish(2, "app.t", args=[b"\x00\x01binary"]),  # WAMP's "\u0000<base64>" convention
    message.Call(3, "app.p", args=["quote \" and \\ and \u0000 inside"]),
]


@pytest.mark.parametrize("msg", MESSAGES)
def test_router_json_decodes_like_autobahn(msg):
    """Text, unicode, escapes and binary arguments come out identical to Autobahn's decoder."""
    payload, is_binary = JsonSerializer().serialize(msg)
    ours = RouterJsonSerializer().unserialize(payload, is_binary)
    theirs = JsonSerializer().unserialize(payload, is_binary)
    assert [m.marshal() for m in ours] == [m.marshal() for m in theirs]


@pytest.mark.parametrize("payload", [b"[16, 1, {}, ", b"\xff\xfe", b'{"not": "a list"}'])
def test_router_json_rejects_what_autobahn_rejects(payload):
    """Broken JSON, bad UTF-8 and non-list messages are protocol errors."""
    with pytest.raises(ProtocolError):
        RouterJsonSerializer().unserialize(payload, False)


@pytest.mark.parametrize("msg", MESSAGES)
def test_router_json_encodes_like_autobahn(msg):
    """The shared encoder writes the same bytes as Autobahn's per-message one, binary included."""
    assert RouterJsonSerializer().serialize(msg) == JsonSerializer().serialize(msg)


def test_router_json_refuses_a_cyclic_payload():
    """The shared encoder skips the cycle check (no decoded message has one); a cycle an in-process service
    builds is still refused with an exception, which the session's send logs, not an endless loop."""
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):
        RouterJsonSerializer().serialize(message.Publish(4, "app.t", args=[cyclic]))


# -- JavaScript undefined in options (wampy.js over MessagePack and CBOR) ---------------------------

U = object()  # stands for JavaScript undefined in the raw messages below

# One raw message per type that has an options/details dict, with undefined values in it
# (nested ones too) next to real options that must survive.
RAW_WITH_UNDEFINED = {
    "HELLO": [1, "wampchat", {"roles": {"subscriber": {"features": {"x_feature": U}}, "caller": {}},
                              "authmethods": ["anonymous"], "authid": U,
                              "authextra": {"nick": "Ann", "color": U}}],
    "WELCOME": [2, 123, {"roles": {"broker": {}}, "authid": "a", "authrole": U}],
    "ABORT": [3, {"message": U}, "wamp.error.no_such_realm"],
    "CHALLENGE": [4, "ticket", {"x": U}],
    "AUTHENTICATE": [5, "signature", {"x": U}],
    "GOODBYE": [6, {"message": U}, "wamp.close.close_realm"],
    "ERROR": [8, 68, 5, {"x": U}, "app.error.x", [1]],
    "PUBLISH": [16, 1, {"acknowledge": True, "exclude_me": U, "exclude": U}, "app.t", [1]],
    "SUBSCRIBE": [32, 1, {"match": U, "get_retained": U}, "app.t"],
    "UNSUBSCRIBE": [34, 1, 99, {"x": U}],
    "UNSUBSCRIBED": [35, 1, {"subscription": U, "reason": U}],
    "EVENT": [36, 5, 6, {"topic": U}, [1]],
    "CALL": [48, 1, {"timeout": U, "receive_progress": True}, "app.p", [1]],
    "CANCEL": [49, 1, {"mode": U}],
    "RESULT": [50, 1, {"progress": U}, [1]],
    "REGISTER": [64, 1, {"match": U, "invoke": "roundrobin"}, "app.p"],
    "UNREGISTER": [66, 1, 9, {"x": U}],
    "UNREGISTERED": [67, 1, {"registration": U}],
    "INVOCATION": [68, 1, 9, {"caller": U, "procedure": U}, [1]],
    "INTERRUPT": [69, 1, {"mode": U}],
    "YIELD": [70, 1, {"progress": U}, [1]],
}

ENCODINGS = {
    "msgpack": (RouterMsgPackSerializer, MsgPackSerializer, lambda raw: msgpack.packb(raw, use_bin_type=True),
                MSGPACK_UNDEFINED),
    "cbor": (RouterCborSerializer, CBORSerializer, cbor2.dumps, cbor2.undefined),
}


def _replace(value, old, new):
    """``value`` with every ``old`` (by identity) replaced by ``new``, or, with ``new=_DROP``, dict keys
    holding ``old`` left out (what JSON.stringify does with undefined)."""
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items() if not (new is _DROP and v is old)}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return new if value is old else value


_DROP = object()


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", RAW_WITH_UNDEFINED)
def test_undefined_options_read_as_absent(name, encoding):
    """An undefined option or detail (nested too) decodes exactly as if the client had left the key out."""
    ours, theirs, encode, undefined = ENCODINGS[encoding]
    raw = RAW_WITH_UNDEFINED[name]
    [msg] = ours().unserialize(encode(_replace(raw, U, undefined)), True)
    [expected] = theirs().unserialize(encode(_replace(raw, U, _DROP)), True)
    assert isinstance(msg, type(expected))   # the router reads an everyday CALL into a subclass
    assert msg.marshal() == expected.marshal()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_autobahn_alone_rejects_undefined_options(encoding):
    """Without our serializer an undefined SUBSCRIBE option is a protocol error: the case this code exists for."""
    _, theirs, encode, undefined = ENCODINGS[encoding]
    with pytest.raises(ProtocolError):
        theirs().unserialize(encode(_replace(RAW_WITH_UNDEFINED["SUBSCRIBE"], U, undefined)), True)


# What wampy 8.0.2 sends for session.subscribe("app.x", handler) with no options, as request 1:
# [32, 1, {match: undefined, get_retained: undefined}, "app.x"], encoded by msgpackr and by cbor-x
# (captured with node from tests/js/node_modules).
WAMPY_SUBSCRIBE = {
    "msgpack": "942001de0002a56d61746368d40000ac6765745f72657461696e6564d40000a56170702e78",
    "cbor": "84182001b90002656d61746368f76c6765745f72657461696e6564f7656170702e78",
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_wampy_subscribe_bytes_decode_as_an_exact_subscription(encoding):
    """The exact bytes wampy.js sends for a plain subscribe decode as SUBSCRIBE app.x with no options."""
    ours = ENCODINGS[encoding][0]
    [msg] = ours().unserialize(bytes.fromhex(WAMPY_SUBSCRIBE[encoding]), True)
    assert isinstance(msg, message.Subscribe)
    assert (msg.request, msg.topic, msg.match, msg.get_retained) == (1, "app.x", "exact", None)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_undefined_in_payloads_reads_as_javascripts_json_would(encoding):
    """Undefined in args is null and in kwargs (at any depth) absent, as JSON.stringify has it, so every
    subscriber can receive the event; the options are cleaned too."""
    ours, _, encode, undefined = ENCODINGS[encoding]
    raw = [16, 1, {"exclude_me": undefined}, "app.t", [undefined, 1, {"a": undefined, "b": [undefined]}],
           {"k": undefined, "j": 2}]
    [msg] = ours().unserialize(encode(raw), True)
    assert msg.args == [None, 1, {"b": [None]}] and msg.kwargs == {"j": 2}
    assert msg.exclude_me is None


def test_other_msgpack_extensions_in_payloads_are_still_refused():
    """Only msgpack's undefined is read as JavaScript's; another extension type is not portable."""
    raw = [16, 1, {}, "app.t", [MSGPACK_UNDEFINED, msgpack.ExtType(5, b"xy")]]
    with pytest.raises(ProtocolError):
        RouterMsgPackSerializer().unserialize(msgpack.packb(raw), True)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bad_messages_with_undefined_are_still_protocol_errors(encoding):
    """Undefined where a WAMP field (not an option) belongs, or a non-list message, is still rejected."""
    ours, _, encode, undefined = ENCODINGS[encoding]
    for raw in ([32, 1, {}, undefined], [undefined, 1, {}, "app.t"], {"not": undefined}):
        with pytest.raises((ProtocolError, InvalidUriError)):
            ours().unserialize(encode(raw), True)


# -- values another serializer could not carry ------------------------------------------------

PORTABILITY = [
    ("json", b'[16, 1, {}, "app.t", [NaN]]'),
    ("json", b'[16, 1, {}, "app.t", [-Infinity]]'),
    ("json", b'[16, 1, {}, "app.t", [1e400]]'),
    ("json", b'[16, 1, {}, "app.t", [18446744073709551616]]'),
    ("json", b'[16, 1, {}, "app.t", ["\\ud800"]]'),
    ("json", '[16, 1, {}, "app.t"]'.encode("utf-16-le")),
    ("json", b'[16, 1, {}, "app.t", ["\xed\xa0\x80"]]'),
    ("msgpack", msgpack.packb([16, 1, {}, "app.t", [msgpack.ExtType(5, b"x")]])),
    ("msgpack", msgpack.packb([16, 1, {}, "app.t", [], {b"bytes-key": 1}])),
    ("msgpack", msgpack.packb([16, 1, {}, "app.t", [float("nan")]])),
    ("cbor", cbor2.dumps([16, 1, {}, "app.t", [], {"k": {1: 2}}])),
    ("cbor", cbor2.dumps([16, 1, {}, "app.t", [2**70]])),
    ("cbor", cbor2.dumps([16, 1, {}, "app.t", [datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)]])),
    ("cbor", cbor2.dumps([16, 1, {}, "app.t", [{1, 2}]])),
    ("cbor", cbor2.dumps([16, 1, {}, "app.t", [float("inf")]])),
]


@pytest.mark.parametrize("name,payload", PORTABILITY,
                         ids=[f"{name}-{i}" for i, (name, _) in enumerate(PORTABILITY)])
def test_values_another_serializer_could_not_carry_are_refused(name, payload):
    """NaN, infinity, integers past 64 bits, non-string keys, CBOR tags, msgpack extensions, unpaired
    surrogates and non-UTF-8 JSON are protocol errors at the sender, not failures at every recipient."""
    serializer = {s.SERIALIZER_ID: s for s in wamp_serializers()}[name]
    with pytest.raises(ProtocolError):
        serializer.unserialize(payload, name != "json")


@pytest.mark.parametrize("name", ["json", "msgpack", "cbor"])
def test_portable_values_pass_every_serializer(name):
    """The widest values every serializer carries (64-bit bounds, floats, bytes, unicode, nesting) are accepted."""
    msg = message.Publish(1, "app.t", args=[-2**63, 2**64 - 1, 1.5e300, b"\x00\xff", "é ☃ \U0001F600", [{"a": None}]],
                          kwargs={"k": {"n": [True, False]}})
    serializer = {s.SERIALIZER_ID: s for s in wamp_serializers()}[name]
    payload, binary = serializer.serialize(msg)
    assert [m.marshal() for m in serializer.unserialize(payload, binary)] == [msg.marshal()]
