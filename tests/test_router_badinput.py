"""Bad input over real sockets: each class ends only the offending session, with ABORT or a close code."""
import json
import struct

import cbor2
import msgpack
import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer, endpoints, protocol

from helpers import poll_until

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

MAX = 4096  # --max-message-size for these tests
HELLO = [1, "wampchat", {"roles": {"subscriber": {}, "publisher": {}}, "authmethods": ["anonymous"]}]
ENCODERS = {
    "json": (lambda m: json.dumps(m).encode(), json.loads, False),
    "msgpack": (msgpack.packb, msgpack.unpackb, True),
    "cbor": (cbor2.dumps, cbor2.loads, True),
}


class RawWampProtocol(WebSocketClientProtocol):
    """A WebSocket client that speaks a WAMP subprotocol by hand, to send what no WAMP library would."""

    def __init__(self):
        super().__init__()
        self.received = []
        self._waiting = []
        self.opened = defer.Deferred()
        self.closed = defer.Deferred()

    def onOpen(self):
        self.opened.callback(self)

    def onMessage(self, payload, isBinary):
        self.received.append(self.factory.decode(payload))
        for count, d in list(self._waiting):
            if len(self.received) >= count:
                self._waiting.remove((count, d))
                d.callback(self.received)

    def wait_for(self, count, timeout=10):
        from twisted.internet import reactor

        if len(self.received) >= count:
            return defer.succeed(self.received)
        d = defer.Deferred()
        self._waiting.append((count, d))
        return d.addTimeout(timeout, reactor)

    def onClose(self, wasClean, code, reason):
        if not self.opened.called:
            self.opened.errback(ConnectionError(f"closed before open: {code} {reason}"))
        self.closed.callback((code, reason))

    def send_wamp(self, msg):
        encode, _, binary = ENCODERS[self.factory.serializer]
        self.sendMessage(encode(msg), isBinary=binary)


def within(d, seconds=10):
    """Bound a wait: ``d`` fails with TimeoutError instead of hanging the test."""
    from twisted.internet import reactor

    return d.addTimeout(seconds, reactor)


@defer.inlineCallbacks
def raw_connect(server, serializer="json"):
    """Open a WebSocket to /ws with subprotocol wamp.2.<serializer>; Deferred of the open RawWampProtocol."""
    from twisted.internet import reactor

    factory = WebSocketClientFactory(server.ws_url, protocols=[f"wamp.2.{serializer}"])
    factory.protocol = RawWampProtocol
    factory.serializer = serializer
    factory.decode = ENCODERS[serializer][1]
    factory.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0)
    proto = yield endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", server.port).connect(factory)
    yield proto.opened
    return proto


@defer.inlineCallbacks
def joined_raw(server, serializer="json"):
    """A raw connection that has sent HELLO and received WELCOME."""
    raw = yield raw_connect(server, serializer)
    raw.send_wamp(HELLO)
    (welcome,) = yield raw.wait_for(1)
    assert welcome[0] == 2
    return raw


@pytest.fixture
def small(make_server):
    """A server with a small --max-message-size and RawSocket enabled."""
    return pytest_twisted.blockon(make_server([
        "--max-message-size", str(MAX), "--rawsocket", "tcp:0:interface=127.0.0.1"]))


@pytest.fixture
def bystander(small, clients):
    """A joined session with a procedure, used to prove that other sessions carry on."""

    @defer.inlineCallbacks
    def make():
        s = yield clients(small.ws_url, serializer="msgpack")
        yield s.register(lambda x: x * 2, f"app.bystander.{s.details.session}")
        return s

    return pytest_twisted.blockon(make())


@defer.inlineCallbacks
def assert_still_works(server, bystander):
    """The bystander session can still call, and the router still accepts new sessions."""
    assert (yield bystander.call(f"app.bystander.{bystander.details.session}", 21)) == 42
    assert bystander.is_attached()
    assert server.router.session_count() >= 1


@defer.inlineCallbacks
def expect_abort(raw, count=1):
    """Wait for the connection to close; return the ABORT message it received before (or None)."""
    code, reason = yield within(raw.closed)
    aborts = [m for m in raw.received if isinstance(m, list) and m and m[0] == 3]
    return (aborts[-1] if aborts else None), code, reason


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
@pytest_twisted.inlineCallbacks
def test_welcome_announces_implemented_features(small, serializer):
    """WELCOME announces the broker and dealer roles with the advanced features the router implements."""
    raw = yield raw_connect(small, serializer)
    raw.send_wamp(HELLO)
    (welcome,) = yield raw.wait_for(1)
    assert welcome[0] == 2 and isinstance(welcome[1], int)
    details = welcome[2]
    assert details["authrole"] == "guest" and details["authmethod"] == "anonymous"
    broker = details["roles"]["broker"]["features"]
    dealer = details["roles"]["dealer"]["features"]
    for feature in ("publisher_identification", "publisher_exclusion", "subscriber_blackwhite_listing",
                    "pattern_based_subscription", "session_meta_api"):
        assert broker.get(feature) is True, feature
    for feature in ("caller_identification", "pattern_based_registration", "shared_registration",
                    "call_timeout", "call_canceling", "progressive_call_results", "session_meta_api"):
        assert dealer.get(feature) is True, feature
    raw.send_wamp([6, {}, "wamp.close.normal"])
    (_, goodbye) = yield raw.wait_for(2)
    assert goodbye[0] == 6 and goodbye[2] == "wamp.close.goodbye_and_out"
    yield within(raw.closed)
    yield poll_until(lambda: small.router.session_count() == 0, timeout=5)


MALFORMED_BEFORE_HELLO = {
    "truncated json": b'[1, "wampchat"',
    "unknown message type": b"[999]",
    "not a list": b'{"a":1}',
    "empty list": b"[]",
    "hello missing details": b'[1, "wampchat"]',
    "hello realm not a string": b'[1, 42, {"roles": {"subscriber": {}}}]',
    "not utf-8": b"[1, \"\xff\xfe\"]",
}


@pytest.mark.parametrize("payload", list(MALFORMED_BEFORE_HELLO.values()), ids=list(MALFORMED_BEFORE_HELLO))
@pytest_twisted.inlineCallbacks
def test_malformed_json_is_a_protocol_violation(small, bystander, payload):
    """Unparseable or invalid WAMP gets ABORT wamp.error.protocol_violation (or a close) and harms no one else."""
    raw = yield raw_connect(small)
    raw.sendMessage(payload, isBinary=False)
    abort, code, reason = yield expect_abort(raw)
    if abort is not None:
        assert abort[2] == "wamp.error.protocol_violation"
        assert abort[1].get("message")
    else:
        assert code is not None and code != 1000, (code, reason)
    yield assert_still_works(small, bystander)


@pytest.mark.parametrize("serializer,payload", [
    ("msgpack", b"\xc1"),               # a byte msgpack never uses
    ("msgpack", msgpack.packb({"a": 1})),
    ("cbor", b"\xff\xff\xff"),
    ("cbor", cbor2.dumps([999])),
])
@pytest_twisted.inlineCallbacks
def test_malformed_binary_is_a_protocol_violation(small, bystander, serializer, payload):
    """Garbage over msgpack and CBOR gets ABORT protocol_violation and harms no one else."""
    raw = yield raw_connect(small, serializer)
    raw.sendMessage(payload, isBinary=True)
    abort, code, reason = yield expect_abort(raw)
    assert abort is not None and abort[2] == "wamp.error.protocol_violation", (abort, code, reason)
    yield assert_still_works(small, bystander)


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
@pytest_twisted.inlineCallbacks
def test_subscribe_before_hello(small, bystander, serializer):
    """A SUBSCRIBE before HELLO is out of order: ABORT protocol_violation."""
    raw = yield raw_connect(small, serializer)
    raw.send_wamp([32, 1, {}, "app.x"])
    abort, _, _ = yield expect_abort(raw)
    assert abort[2] == "wamp.error.protocol_violation"
    assert small.router.metrics.protocol_violations.value == 1
    yield assert_still_works(small, bystander)


@pytest_twisted.inlineCallbacks
def test_second_hello(small, bystander):
    """A HELLO after WELCOME is out of order: ABORT protocol_violation, and the session leaves the realm."""
    raw = yield joined_raw(small)
    assert small.router.session_count() == 2
    raw.send_wamp(HELLO)
    abort, _, _ = yield expect_abort(raw)
    assert abort[2] == "wamp.error.protocol_violation"
    yield poll_until(lambda: small.router.session_count() == 1, timeout=5)
    yield assert_still_works(small, bystander)


@pytest.mark.parametrize("msg", [
    [2, 1234, {"roles": {"broker": {}}}],   # WELCOME
    [36, 1, 2, {}],                          # EVENT
    [50, 1, {}],                             # RESULT
    [17, 1, 2],                              # PUBLISHED
], ids=["welcome", "event", "result", "published"])
@pytest.mark.parametrize("joined", [False, True], ids=["before-hello", "joined"])
@pytest_twisted.inlineCallbacks
def test_router_only_messages(small, bystander, msg, joined):
    """A peer sending a message only routers send gets ABORT protocol_violation."""
    raw = yield (joined_raw(small) if joined else raw_connect(small))
    raw.send_wamp(msg)
    abort, _, _ = yield expect_abort(raw)
    assert abort[2] == "wamp.error.protocol_violation"
    yield assert_still_works(small, bystander)


@pytest.mark.parametrize("msg", [
    [16, 1, {}, "a..b"],                        # empty URI component in an exact PUBLISH
    [16, 1, {}, "app.x", "notalist"],           # PUBLISH args not a list
    [16, 1, {}, "app.x", [], "notadict"],       # PUBLISH kwargs not a dict
    [16, "one", {}, "app.x"],                   # request id not an integer
    [16, 1, {"acknowledge": "yes"}, "app.x"],   # option of the wrong type
    [32, 1, {}, 42],                            # SUBSCRIBE topic not a string
    [32, 1, {"match": "fuzzy"}, "app.x"],       # unknown match policy
    [48, 1, {}, "app. x"],                      # CALL with a space in the URI
    [64, 1, {}, ""],                            # REGISTER empty URI
    [34, 1, "sub"],                             # UNSUBSCRIBE id not an integer
], ids=["empty-component", "args-not-list", "kwargs-not-dict", "request-not-int", "option-type",
        "topic-not-str", "bad-match", "space-in-uri", "empty-uri", "subid-not-int"])
@pytest_twisted.inlineCallbacks
def test_invalid_messages_after_join(small, bystander, msg):
    """Invalid URIs and wrong argument types after joining get ABORT protocol_violation; others carry on."""
    raw = yield joined_raw(small)
    raw.send_wamp(msg)
    abort, _, _ = yield expect_abort(raw)
    assert abort is not None and abort[2] == "wamp.error.protocol_violation", abort
    yield poll_until(lambda: small.router.session_count() == 1, timeout=5)
    yield assert_still_works(small, bystander)


@pytest_twisted.inlineCallbacks
def test_error_for_a_non_invocation(small, bystander):
    """A peer's ERROR that does not answer an INVOCATION is a protocol violation."""
    raw = yield joined_raw(small)
    raw.send_wamp([8, 48, 1, {}, "app.error.x"])
    abort, _, _ = yield expect_abort(raw)
    assert abort[2] == "wamp.error.protocol_violation"
    yield assert_still_works(small, bystander)


@pytest_twisted.inlineCallbacks
def test_answers_for_unknown_requests_are_ignored(small, bystander):
    """YIELD/ERROR for an invocation that does not exist (e.g. a timed-out call) are dropped, not fatal."""
    raw = yield joined_raw(small)
    raw.send_wamp([70, 4242, {}, ["late"]])
    raw.send_wamp([8, 68, 4243, {}, "app.error.late"])
    raw.send_wamp([49, 4244, {}])  # CANCEL of an unknown call
    raw.send_wamp([32, 7, {}, "app.still.here"])
    received = yield raw.wait_for(2)
    assert received[1][:2] == [33, 7]  # SUBSCRIBED: the session is fine
    yield assert_still_works(small, bystander)


@pytest_twisted.inlineCallbacks
def test_unknown_subscription_and_registration_ids(small, bystander):
    """UNSUBSCRIBE/UNREGISTER of ids the session does not hold get ERRORs and the session stays up."""
    raw = yield joined_raw(small)
    raw.send_wamp([34, 1, 999])
    raw.send_wamp([66, 2, 999])
    received = yield raw.wait_for(3)
    assert received[1][:5] == [8, 34, 1, {}, "wamp.error.no_such_subscription"]
    assert received[2][:5] == [8, 66, 2, {}, "wamp.error.no_such_registration"]


@pytest_twisted.inlineCallbacks
def test_duplicate_call_request_id(small, bystander, clients):
    """Reusing the request id of a call still in flight is a protocol violation."""
    callee = yield clients(small.ws_url)
    never = defer.Deferred()
    yield callee.register(lambda: never, "app.bad.slow")
    raw = yield joined_raw(small)
    raw.send_wamp([48, 5, {}, "app.bad.slow"])
    raw.send_wamp([48, 5, {}, "app.bad.slow"])
    abort, _, _ = yield expect_abort(raw)
    assert abort[2] == "wamp.error.protocol_violation"
    yield assert_still_works(small, bystander)


@pytest.mark.parametrize("serializer", ["json", "cbor"])
@pytest_twisted.inlineCallbacks
def test_oversize_message_closes_1009(small, bystander, serializer):
    """A message bigger than --max-message-size closes the WebSocket with 1009; others carry on."""
    raw = yield joined_raw(small, serializer)
    raw.send_wamp([16, 1, {}, "app.big", ["x" * (MAX + 100)]])
    code, reason = yield within(raw.closed)
    assert code == 1009, (code, reason)
    yield poll_until(lambda: small.router.session_count() == 1, timeout=5)
    yield assert_still_works(small, bystander)


@pytest_twisted.inlineCallbacks
def test_oversize_publish_from_autobahn_client(small, bystander, clients):
    """An Autobahn session publishing past the limit loses its connection; the bystander keeps working."""
    big = yield clients(small.ws_url)
    d = big.publish("app.big", "y" * (MAX * 2), options=PublishOptions(acknowledge=True))
    d.addErrback(lambda _: None)  # Autobahn settles requests outstanding at close inconsistently
    yield within(big.closed)
    assert not big.is_attached()
    yield poll_until(lambda: small.router.session_count() == 1, timeout=5)
    yield assert_still_works(small, bystander)


# -- RawSocket ------------------------------------------------------------------------------------

class RawSocketClient(protocol.Protocol):
    """A hand-rolled RawSocket client: handshake, then length-prefixed frames."""

    def __init__(self, serializer_id=1, max_len_exp=15):
        self.handshake = bytes([0x7F, (max_len_exp - 9) << 4 | serializer_id, 0, 0])
        self.buffer = b""
        self.messages = []
        self.shook = defer.Deferred()
        self.lost = defer.Deferred()
        self.reply = None

    def connectionMade(self):
        self.transport.write(self.handshake)

    def dataReceived(self, data):
        self.buffer += data
        if self.reply is None and len(self.buffer) >= 4:
            self.reply, self.buffer = self.buffer[:4], self.buffer[4:]
            self.shook.callback(self.reply)
        while len(self.buffer) >= 4:
            kind_len = struct.unpack("!I", self.buffer[:4])[0]
            length = kind_len & 0xFFFFFF
            if len(self.buffer) < 4 + length:
                break
            self.messages.append(json.loads(self.buffer[4:4 + length]))
            self.buffer = self.buffer[4 + length:]

    def connectionLost(self, reason):
        self.lost.callback(None)

    def send_frame(self, payload, length=None):
        self.transport.write(struct.pack("!I", len(payload) if length is None else length) + payload)


@defer.inlineCallbacks
def rawsocket_connect(server, **kwargs):
    from twisted.internet import reactor

    client = RawSocketClient(**kwargs)
    yield endpoints.connectProtocol(endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", server.rawsocket_port),
                                    client)
    return client


@pytest_twisted.inlineCallbacks
def test_rawsocket_malformed_json(small, bystander):
    """Malformed JSON over RawSocket gets ABORT protocol_violation and a closed connection."""
    client = yield rawsocket_connect(small)
    reply = yield client.shook
    assert reply[0] == 0x7F and reply[1] & 0x0F == 1
    client.send_frame(b'[1, "wampchat"')
    yield within(client.lost)
    assert client.messages and client.messages[-1][0] == 3
    assert client.messages[-1][2] == "wamp.error.protocol_violation"
    yield assert_still_works(small, bystander)


@pytest_twisted.inlineCallbacks
def test_rawsocket_bad_handshake(small, bystander):
    """A RawSocket handshake with a wrong magic byte is refused by closing the connection."""
    client = RawSocketClient()
    client.handshake = b"GET / HTTP/1.1\r\n\r\n"
    from twisted.internet import reactor

    yield endpoints.connectProtocol(endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", small.rawsocket_port),
                                    client)
    yield within(client.lost)
    assert client.messages == []
    yield assert_still_works(small, bystander)


@pytest_twisted.inlineCallbacks
def test_rawsocket_oversize_frame(small, bystander):
    """A RawSocket frame longer than the router's limit drops the connection; others carry on."""
    client = yield rawsocket_connect(small)
    yield client.shook
    client.send_frame(json.dumps(HELLO).encode())
    yield poll_until(lambda: client.messages, timeout=5)
    assert client.messages[0][0] == 2
    client.send_frame(json.dumps([16, 1, {}, "app.big", ["z" * (MAX * 8)]]).encode())
    yield within(client.lost)
    yield poll_until(lambda: small.router.session_count() == 1, timeout=5)
    yield assert_still_works(small, bystander)
