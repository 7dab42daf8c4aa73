"""The router's JSON serializer decodes exactly as Autobahn's does, only faster."""
import datetime

import cbor2
import msgpack
import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import ProtocolError
from autobahn.wamp.serializer import JsonSerializer

from wampchat.router.serializers import RouterJsonSerializer, wamp_serializers

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
