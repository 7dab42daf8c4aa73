"""WAMP IDs sent as integral floats (wampy.js over CBOR encodes every integer above 2**32 as a float64):
over a real WebSocket and RawSocket, with JSON, MessagePack and CBOR, an ID that is an integral float in
(0, 2**53] is read as that integer; a fractional, zero, negative or too large one is still ABORT
wamp.error.protocol_violation."""
import struct

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, endpoints, protocol

from helpers import Collector
from test_router_badinput import ENCODERS, HELLO, joined_raw, within

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

RAWSOCKET_SERIALIZER_IDS = {"json": 1, "msgpack": 2, "cbor": 3}
TRANSPORTS = [pytest.param(s, False, id=f"ws-{s}") for s in ("json", "msgpack", "cbor")] + [
    pytest.param(s, True, id=f"rs-{s}") for s in ("json", "cbor")]
BIGGEST_ID = 2**53


class RawSocketWamp(protocol.Protocol):
    """A RawSocket client that speaks WAMP by hand, with the interface of test_router_badinput's WebSocket one."""

    def __init__(self, serializer):
        self.encode, self.decode, _ = ENCODERS[serializer]
        self.handshake = bytes([0x7F, (15 - 9) << 4 | RAWSOCKET_SERIALIZER_IDS[serializer], 0, 0])
        self.buffer = b""
        self.shook = False
        self.received = []
        self._waiting = []
        self.closed = defer.Deferred()

    def connectionMade(self):
        self.transport.write(self.handshake)

    def dataReceived(self, data):
        self.buffer += data
        if not self.shook and len(self.buffer) >= 4:
            self.shook, self.buffer = True, self.buffer[4:]
        while self.shook and len(self.buffer) >= 4:
            length = struct.unpack("!I", self.buffer[:4])[0] & 0xFFFFFF
            if len(self.buffer) < 4 + length:
                break
            self.received.append(self.decode(self.buffer[4:4 + length]))
            self.buffer = self.buffer[4 + length:]
        for count, d in list(self._waiting):
            if len(self.received) >= count:
                self._waiting.remove((count, d))
                d.callback(self.received)

    def wait_for(self, count):
        if len(self.received) >= count:
            return defer.succeed(self.received)
        d = defer.Deferred()
        self._waiting.append((count, d))
        return within(d)

    def connectionLost(self, reason):
        self.closed.callback(None)

    def send_wamp(self, msg):
        payload = self.encode(msg)
        self.transport.write(struct.pack("!I", len(payload)) + payload)


@defer.inlineCallbacks
def joined(router, serializer, rawsocket):
    """A peer that has sent HELLO and received WELCOME, over WebSocket or RawSocket."""
    from twisted.internet import reactor

    if not rawsocket:
        return (yield joined_raw(router, serializer))
    peer = RawSocketWamp(serializer)
    yield endpoints.connectProtocol(endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", router.rawsocket_port), peer)
    peer.send_wamp(HELLO)
    (welcome,) = yield peer.wait_for(1)
    assert welcome[0] == 2
    return peer


@defer.inlineCallbacks
def exchange(peer, msg, replies=1):
    """Send ``msg``; the next ``replies`` messages the peer receives."""
    start = len(peer.received)
    peer.send_wamp(msg)
    got = yield within(peer.wait_for(start + replies))
    return got[start:start + replies]


def assert_int(value):
    assert type(value) is int, f"{value!r} is not an integer"


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_float_ids_are_read_as_integers(router, join, serializer, rawsocket):
    """Request ids, eligible/exclude session ids, subscription and registration ids, and the request ids of
    YIELD, ERROR and CANCEL all work when sent as integral floats; replies carry them as integers."""
    peer = yield joined(router, serializer, rawsocket)
    other = yield join("json")
    b = float(other.details.session)
    got = Collector()
    yield other.subscribe(got, "app.ids.t")

    (subscribed,) = yield exchange(peer, [32, float(BIGGEST_ID), {}, "app.ids.t"])
    assert subscribed[:2] == [33, BIGGEST_ID]
    assert_int(subscribed[1])
    subscription = subscribed[2]

    (published,) = yield exchange(peer, [16, 2.0, {"acknowledge": True, "eligible": [b]}, "app.ids.t", ["to b"]])
    assert published[:2] == [17, 2]
    # excluded from b, but sent to the peer itself (exclude_me false): its EVENT and PUBLISHED
    replies = yield exchange(peer, [16, 3.0, {"acknowledge": True, "exclude": [b], "exclude_me": False},
                                    "app.ids.t", ["not b"]], replies=2)
    assert sorted(m[0] for m in replies) == [17, 36]
    assert [m[1] for m in replies if m[0] == 36] == [subscription]
    replies = yield exchange(peer, [16, 4.0, {"acknowledge": True, "exclude_me": False,
                                              "eligible": [b, float(peer_session(peer))]},
                                    "app.ids.t", ["second"]], replies=2)
    assert sorted(m[0] for m in replies) == [17, 36]
    events = yield got.wait_for(2)
    assert [args for args, _ in events] == [("to b",), ("second",)]  # b never got "not b"

    assert (yield exchange(peer, [34, 5.0, float(subscription)])) == [[35, 5]]
    (registered,) = yield exchange(peer, [64, 6.0, {}, "app.ids.proc"])
    assert registered[:2] == [65, 6]
    registration = registered[2]

    start = len(peer.received)
    answer = other.call("app.ids.proc", 1)
    invocation = (yield within(peer.wait_for(start + 1)))[start]
    assert invocation[:3] == [68, invocation[1], registration]
    peer.send_wamp([70, float(invocation[1]), {}, ["yielded"]])
    assert (yield within(answer)) == "yielded"

    start = len(peer.received)
    failing = other.call("app.ids.proc", 2)
    invocation = (yield within(peer.wait_for(start + 1)))[start]
    peer.send_wamp([8, 68, float(invocation[1]), {}, "app.error.ids"])
    with pytest.raises(ApplicationError) as info:
        yield within(failing)
    assert info.value.error == "app.error.ids"

    stalled = defer.Deferred()
    invoked = defer.Deferred()
    yield other.register(lambda: invoked.callback(None) or stalled, "app.ids.slow")
    peer.send_wamp([48, 7.0, {}, "app.ids.slow"])
    yield within(invoked)
    (canceled,) = yield exchange(peer, [49, 7.0, {"mode": "skip"}])
    assert canceled[:5] == [8, 48, 7, {}, "wamp.error.canceled"]

    assert (yield exchange(peer, [66, 8.0, float(registration)])) == [[67, 8]]
    (result,) = yield exchange(peer, [48, 9.0, {}, "app.ids.nobody"])
    assert result[:5] == [8, 48, 9, {}, "wamp.error.no_such_procedure"]
    assert_int(result[2])


def peer_session(peer):
    """The session id in the WELCOME the peer received first."""
    return peer.received[0][1]


BAD_IDS = [
    pytest.param([48, 5.5, {}, "app.x"], id="fractional-request"),
    pytest.param([48, 0.0, {}, "app.x"], id="zero-request"),
    pytest.param([48, -3.0, {}, "app.x"], id="negative-request"),
    pytest.param([48, float(BIGGEST_ID + 2), {}, "app.x"], id="request-past-2**53"),
    pytest.param([16, 1, {"eligible": [1234.5]}, "app.x"], id="fractional-eligible"),
    pytest.param([16, 1, {"exclude": [float(2**60)]}, "app.x"], id="exclude-past-2**53"),
    pytest.param([34, 1, 0.5], id="fractional-subscription"),
    pytest.param([66, 1, float(2**54)], id="registration-past-2**53"),
]


@pytest.mark.parametrize("msg", BAD_IDS)
@pytest.mark.parametrize("serializer,rawsocket", [("json", False), ("cbor", False), ("cbor", True)],
                         ids=["ws-json", "ws-cbor", "rs-cbor"])
@pytest_twisted.inlineCallbacks
def test_float_ids_that_are_no_id_are_a_protocol_violation(router, serializer, rawsocket, msg):
    """A float that is not a whole number in (0, 2**53] is no WAMP ID: ABORT protocol_violation, then close."""
    peer = yield joined(router, serializer, rawsocket)
    peer.send_wamp(msg)
    yield within(peer.closed)
    abort = peer.received[-1]
    assert abort[0] == 3 and abort[2] == "wamp.error.protocol_violation", peer.received
