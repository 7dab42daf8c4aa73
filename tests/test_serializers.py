"""The router's JSON serializer decodes exactly as Autobahn's does, only faster."""
import pytest
from autobahn.wamp import message
from autobahn.wamp.exception import ProtocolError
from autobahn.wamp.serializer import JsonSerializer

from wampchat.router.serializers import RouterJsonSerializer

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
