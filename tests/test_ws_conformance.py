"""
RFC 6455 conformance of the router's WebSocket, on both inbound paths.

Every case in ``wsraw.CASES`` runs twice: with its bytes delivered in one
piece (complete masked data frames are then handled by the router's fast
path) and cut inside the first frame (the bytes then go through Autobahn's
frame machinery). Each run checks exactly which frames the router answers
with, and ``ServerFrames`` checks that the router's own framing is valid.
The cases run in memory (StringTransport, Clock) and again over a real TCP
socket on 127.0.0.1 against the real service tree.
"""
import json

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints, error, protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python import failure

from helpers import poll_until
from wampchat import testing
from wampchat.router import Router
from wampchat.router.config import RouterConfig
from wampchat.router.serializers import wamp_serializers
from wampchat.router.transports.websocket import RouterWebSocketFactory
from wsraw import CASES, CLOSE, HELLO, ServerFrames, close_frame, text, upgrade_request

DELIVERIES = ["whole", "split"]
CASE_IDS = [case.name for case in CASES]


# A "split" delivery cuts after the first byte, inside the first frame's header, so no frame arrives whole.
SPLIT_AT = 1


# -- in memory ------------------------------------------------------------------------------------

class MemoryPeer:
    """A router WebSocket protocol over a StringTransport, joined as a guest with a hand-written HELLO."""

    def __init__(self):
        self.router = Router(Clock(), RouterConfig())
        factory = RouterWebSocketFactory(self.router, wamp_serializers(), max_message_size=64 * 1024,
                                         outbound_buffer=1 << 20, url="ws://127.0.0.1/ws")
        # No Autobahn timers: they would run on the global reactor, not on this test's clock.
        factory.setProtocolOptions(autoPingInterval=0, openHandshakeTimeout=0, closeHandshakeTimeout=0)
        self.protocol = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.frames = ServerFrames()
        self.send(upgrade_request())
        self.send(text(HELLO))
        assert self.frames.shapes() == [("wamp", 2)], self.frames.shapes()
        self.frames.frames.clear()

    def send(self, data):
        self.protocol.dataReceived(data)
        self.frames.feed(self.transport.value())
        self.transport.clear()

    def frames_through_autobahn(self):
        """How many frames Autobahn's frame machinery has completed (the fast path does not count them)."""
        return self.protocol.trafficStats.incomingWebSocketFrames


def deliver(peer, case, delivery):
    """Hand the case's bytes to the router in one piece or in two."""
    if delivery == "whole":
        peer.send(case.data)
    else:
        peer.send(case.data[:SPLIT_AT])
        peer.send(case.data[SPLIT_AT:])


@pytest.mark.parametrize("delivery", DELIVERIES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_in_memory(case, delivery):
    """The router answers each case with exactly the expected frames, whichever inbound path reads it."""
    peer = MemoryPeer()
    before = peer.frames_through_autobahn()
    deliver(peer, case, delivery)
    assert peer.frames.shapes() == case.expect
    if case.fast:  # prove which path read the frame the fast path can take
        through_autobahn = peer.frames_through_autobahn() > before
        assert through_autobahn == (delivery == "split")


FAILING = [c for c in CASES if c.expect[-1][0] == "close" and c.expect[-1][1] != 1000
           # its header announces 2**63 bytes, so what follows is payload to Autobahn: the close
           # handshake timeout (1 s in production) ends that one, see test_over_tcp
           and c.name != "64-bit-length-msb-set"]


@pytest.mark.parametrize("case", FAILING, ids=[c.name for c in FAILING])
def test_failed_connection_closes_after_the_close_handshake(case):
    """After failing the connection the router drops TCP once the client has sent its close, and sends nothing else."""
    peer = MemoryPeer()
    peer.send(case.data)
    if case.data[0] & 0x0F != CLOSE:  # a failing close frame is itself the client's close
        assert not peer.transport.disconnecting
        peer.send(close_frame(1000))
    assert peer.transport.disconnecting
    assert [kind for kind, _ in peer.frames.shapes()] == ["close"]


def test_a_failed_connection_ends_the_wamp_session():
    """Failing the WebSocket (here invalid UTF-8) takes the WAMP session out of the realm once TCP is gone."""
    peer = MemoryPeer()
    assert peer.router.session_count() == 1
    peer.send(b"".join(c.data for c in CASES if c.name == "text-invalid-byte"))
    peer.send(close_frame(1000))
    peer.protocol.connectionLost(failure.Failure(error.ConnectionDone()))
    assert peer.router.session_count() == 0


# -- over a real socket ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One real wampchat service tree on 127.0.0.1:0 for every real-socket case of this module."""
    running = pytest_twisted.blockon(testing.start_server([], tmp_path_factory.mktemp("ws-conformance")))
    yield running
    pytest_twisted.blockon(running.stop())


class RawClient(protocol.Protocol):
    """Raw bytes over TCP: writes what the test says, parses the router's frames as they arrive."""

    def __init__(self):
        self.frames = ServerFrames()
        self.lost = defer.Deferred()

    def dataReceived(self, data):
        self.frames.feed(data)

    def connectionLost(self, reason):
        self.lost.callback(None)


@defer.inlineCallbacks
def joined_client(server):
    """A raw TCP client that has upgraded to WebSocket and joined; returns (client, the router's protocol)."""
    from twisted.internet import reactor

    client = RawClient()
    yield endpoints.connectProtocol(endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", server.port), client)
    client.transport.setTcpNoDelay(True)
    client.transport.write(upgrade_request())
    yield poll_until(lambda: client.frames.upgraded, timeout=10)  # RFC 6455 §4.1: wait for the 101
    client.transport.write(text(HELLO))
    yield poll_until(lambda: client.frames.shapes(), timeout=10)
    [(opcode, payload)] = client.frames.frames
    session_id = json.loads(payload)[1]
    client.frames.frames.clear()
    server_side = server.router.realm("wampchat").session(session_id)._transport
    return client, server_side


def buffered_by_autobahn(server_side):
    """Whether the router's protocol holds part of a frame (so the rest must go through Autobahn)."""
    return bool(server_side.data) or server_side.current_frame is not None


@pytest.mark.parametrize("delivery", DELIVERIES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest_twisted.inlineCallbacks
def test_over_tcp(live, case, delivery):
    """Over a real socket the router answers each case with exactly the expected frames, on both paths."""
    client, server_side = yield joined_client(live)
    if delivery == "whole":
        client.transport.write(case.data)
    else:
        client.transport.write(case.data[:SPLIT_AT])
        yield poll_until(lambda: buffered_by_autobahn(server_side), timeout=10)
        client.transport.write(case.data[SPLIT_AT:])
    yield poll_until(lambda: len(client.frames.frames) >= len(case.expect), timeout=10)
    if case.expect[-1][0] != "close":
        client.transport.write(close_frame(1000))  # end cleanly, and flush out anything unexpected
        yield poll_until(lambda: client.frames.closed_with() is not None, timeout=10)
        assert client.frames.shapes() == case.expect + [("close", 1000)]
    else:
        assert client.frames.shapes() == case.expect
        client.transport.write(close_frame(1000))
    yield poll_until(lambda: client.lost.called, timeout=10)
