"""
Connection abuse limits: open connections per source address, and the handshake deadline.

The fast tests drive the real Site / RawSocket factory over StringTransports
with a Clock, so deadlines are checked to the millisecond; the real-socket
tests run the service tree from ``makeService`` on 127.0.0.1 with small
limits and wait by polling with a deadline.
"""
import json
import struct

import pytest
import pytest_twisted
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer, endpoints, error, protocol
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python import failure

from helpers import poll_until
from wampchat.router import Router
from wampchat.router.config import RouterConfig
from wampchat.router.metrics import Metrics
from wampchat.router.serializers import wamp_serializers
from wampchat.router.transports.connection_guard import ConnectionGuard
from wampchat.router.transports.rawsocket import RAWSOCKET_TOO_MANY, RouterRawSocketFactory
from wampchat.web.site import make_site
from wsraw import HELLO, ServerFrames, text, upgrade_request

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

TIMEOUT = 10.0


def addr(host="10.0.0.1", port=40000):
    return IPv4Address("TCP", host, port)


# -- the guard alone ---------------------------------------------------------------------------------

def test_guard_caps_each_address_and_counts_refusals():
    """The cap is per address: the third from one address is refused (and counted), others are not affected."""
    metrics = Metrics()
    guard = ConnectionGuard(Clock(), metrics, max_per_address=2, handshake_timeout=TIMEOUT)
    first, second = guard.admit(addr()), guard.admit(addr(port=2))
    assert first and second
    assert guard.admit(addr(port=3)) is None
    assert metrics.value("wampchat_connections_refused_total") == 1
    assert guard.admit(addr("10.0.0.2")) is not None
    first.release()
    first.release()  # idempotent: a second release does not free another place
    assert guard.admit(addr(port=4)) is not None
    assert guard.admit(addr(port=5)) is None
    assert metrics.value("wampchat_connections_open") == 3


def test_zero_means_no_cap_and_hostless_addresses_are_not_capped():
    """--max-connections-per-address 0 turns the cap off; UNIX-socket peers (no host) are never capped."""
    unlimited = ConnectionGuard(Clock(), Metrics(), max_per_address=0)
    assert all(unlimited.admit(addr(port=p)) for p in range(500))
    capped = ConnectionGuard(Clock(), Metrics(), max_per_address=1)
    assert all(capped.admit(None) for _ in range(5))


# -- the web Site over StringTransports with a Clock -------------------------------------------------

class WebHarness:
    """The real Site from make_site, on a Router whose reactor is a Clock."""

    def __init__(self, max_per_address=3, timeout=TIMEOUT):
        self.clock = Clock()
        self.router = Router(self.clock, RouterConfig())
        self.guard = ConnectionGuard(self.clock, self.router.metrics, max_per_address, timeout)
        self.site = make_site(self.router, None, 64 * 1024, 1 << 20, guard=self.guard)
        ws_factory = self.site.resource.children[b"ws"]._factory
        # No Autobahn timers: they would run on the global reactor, not on this clock.
        ws_factory.setProtocolOptions(autoPingInterval=0, openHandshakeTimeout=0, closeHandshakeTimeout=0)

    def connect(self, host="10.0.0.1"):
        """A new TCP connection from ``host``; reads go to ``transport.protocol``, as in twisted.internet.tcp."""
        proto = self.site.buildProtocol(addr(host))
        transport = StringTransport(peerAddress=addr(host))
        transport.protocol = proto
        proto.makeConnection(transport)
        return transport

    def metric(self, name):
        return self.router.metrics.value(name)


def send(transport, data):
    transport.protocol.dataReceived(data)


def lose(transport):
    transport.protocol.connectionLost(failure.Failure(error.ConnectionDone()))


def upgraded(transport, hello=True):
    """Upgrade ``transport`` to a WAMP WebSocket (and join with HELLO); the parsed frames so far."""
    send(transport, upgrade_request())
    if hello:
        send(transport, text(HELLO))
    frames = ServerFrames()
    frames.feed(transport.value())
    return frames


def test_connections_over_the_cap_get_429_and_are_closed():
    """The fourth connection from one address is answered 429 and closed; another address still gets in."""
    web = WebHarness(max_per_address=3)
    kept = [web.connect() for _ in range(3)]
    refused = web.connect()
    assert refused.value().startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert refused.value().endswith(b"too many connections from your address\n")
    assert refused.disconnecting
    assert web.metric("wampchat_connections_refused_total") == 1
    assert not web.connect("10.0.0.9").disconnecting
    lose(kept[0])
    assert not web.connect().disconnecting, "a closed connection gives its place back"


def test_an_upgraded_websocket_keeps_its_place_until_it_closes():
    """A WebSocket counts as the HTTP connection it came from: its place is given back only when it closes."""
    web = WebHarness(max_per_address=1)
    ws = web.connect()
    assert upgraded(ws).shapes() == [("wamp", 2)]
    assert web.connect().value().startswith(b"HTTP/1.1 429")
    lose(ws)
    assert web.router.session_count() == 0
    assert not web.connect().disconnecting


def test_silent_connection_gets_408_at_the_deadline():
    """A connection that sends no request is answered 408 and closed exactly at --handshake-timeout."""
    web = WebHarness()
    idle = web.connect()
    web.clock.advance(TIMEOUT - 0.001)
    assert not idle.disconnecting
    web.clock.advance(0.001)
    assert idle.value().startswith(b"HTTP/1.1 408 Request Timeout\r\n") and idle.disconnecting
    assert web.metric("wampchat_handshake_timeouts_total") == 1


def test_slow_request_headers_get_408_at_the_deadline():
    """Headers trickling in (slowloris) do not extend the deadline: 408 at the deadline."""
    web = WebHarness()
    slow = web.connect()
    for second in range(int(TIMEOUT)):
        send(slow, b"GET / HTTP/1.1\r\n" if second == 0 else b"X-A: b\r\n")
        web.clock.advance(0.999)
    web.clock.advance(TIMEOUT - 0.999 * int(TIMEOUT))
    assert slow.value().startswith(b"HTTP/1.1 408") and slow.disconnecting


def test_a_request_in_time_stops_the_clock():
    """A complete request before the deadline is served, and the connection is not closed at the deadline."""
    web = WebHarness()
    conn = web.connect()
    send(conn, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert conn.value().startswith(b"HTTP/1.1 200")
    web.clock.advance(TIMEOUT * 3)
    assert not conn.disconnecting
    assert web.metric("wampchat_handshake_timeouts_total") == 0


def test_websocket_without_hello_is_closed_1008_at_the_deadline():
    """An upgraded WebSocket that sends no HELLO gets close 1008 at the deadline counted from its TCP arrival."""
    web = WebHarness()
    ws = web.connect()
    web.clock.advance(6)
    frames = upgraded(ws, hello=False)
    assert frames.upgraded.startswith(b"HTTP/1.1 101")
    web.clock.advance(TIMEOUT - 6 - 0.001)
    assert not ws.disconnecting
    web.clock.advance(0.001)
    frames.feed(ws.value()[len(frames.upgraded):].split(b"\r\n\r\n", 1)[1])
    assert frames.closed_with() == 1008
    assert b"no WAMP HELLO within 10 s" in frames.frames[-1][1]
    assert ws.disconnecting
    assert web.metric("wampchat_handshake_timeouts_total") == 1


def test_websocket_with_hello_in_time_stays():
    """A WebSocket that upgrades and sends HELLO in time is joined and stays open past the deadline."""
    web = WebHarness()
    ws = web.connect()
    assert upgraded(ws).shapes() == [("wamp", 2)]
    web.clock.advance(TIMEOUT * 3)
    assert not ws.disconnecting and web.router.session_count() == 1


# -- RawSocket over StringTransports with a Clock ------------------------------------------------------

class RawHarness:
    """The real RawSocket factory on a Clock-driven Router, sharing a guard as makeService does."""

    def __init__(self, max_per_address=2):
        self.clock = Clock()
        self.router = Router(self.clock, RouterConfig())
        self.guard = ConnectionGuard(self.clock, self.router.metrics, max_per_address, TIMEOUT)
        self.factory = RouterRawSocketFactory(self.router, wamp_serializers(), 64 * 1024, 1 << 20, guard=self.guard)

    def connect(self):
        proto = self.factory.buildProtocol(addr())
        transport = StringTransport(peerAddress=addr())
        proto.makeConnection(transport)
        return proto, transport


RAW_HANDSHAKE_JSON = bytes((0x7F, 0xF1, 0, 0))


def test_rawsocket_over_the_cap_gets_error_4():
    """A RawSocket connection over the cap gets the handshake error "maximum connection count reached" (4)."""
    raw = RawHarness(max_per_address=2)
    raw.connect(), raw.connect()
    _, refused = raw.connect()
    assert refused.value() == RAWSOCKET_TOO_MANY == b"\x7f\x40\x00\x00" and refused.disconnecting
    assert raw.router.metrics.value("wampchat_connections_refused_total") == 1


def test_rawsocket_without_hello_is_dropped_at_the_deadline():
    """A RawSocket that shakes hands but sends no HELLO is dropped exactly at the deadline, and counted."""
    raw = RawHarness()
    proto, transport = raw.connect()
    proto.dataReceived(RAW_HANDSHAKE_JSON)
    raw.clock.advance(TIMEOUT - 0.001)
    assert not transport.disconnected
    raw.clock.advance(0.001)
    assert transport.disconnected  # StringTransport.abortConnection
    assert raw.router.metrics.value("wampchat_handshake_timeouts_total") == 1


def test_rawsocket_with_hello_in_time_stays():
    """A RawSocket that sends HELLO in time is joined and not dropped at the deadline."""
    raw = RawHarness()
    proto, transport = raw.connect()
    hello = json.dumps(HELLO).encode()
    proto.dataReceived(RAW_HANDSHAKE_JSON + struct.pack("!I", len(hello)) + hello)
    raw.clock.advance(TIMEOUT * 3)
    assert not transport.disconnected and not transport.disconnecting
    assert raw.router.session_count() == 1


# -- real sockets ----------------------------------------------------------------------------------------

class Recorder(protocol.Protocol):
    """A TCP client that records everything it receives and when the connection ends."""

    def __init__(self, greeting=b""):
        self.greeting = greeting
        self.received = b""
        self.lost = defer.Deferred()

    def connectionMade(self):
        if self.greeting:
            self.transport.write(self.greeting)

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.lost.callback(None)


@defer.inlineCallbacks
def open_tcp(port, greeting=b""):
    from twisted.internet import reactor

    client = Recorder(greeting)
    yield endpoints.connectProtocol(endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    return client


@pytest.fixture
def capped(make_server):
    """A server allowing 3 connections per address (web and RawSocket together)."""
    return pytest_twisted.blockon(make_server([
        "--max-connections-per-address", "3", "--rawsocket", "tcp:0:interface=127.0.0.1"]))


@pytest_twisted.inlineCallbacks
def test_cap_over_real_sockets(capped, clients):
    """With 3 joined sessions, a 4th WebSocket gets 429 and a RawSocket error 4; after one leaves, a new one joins."""
    sessions = yield defer.gatherResults([clients(capped.ws_url, serializer=s) for s in ("json", "msgpack", "cbor")])
    web = yield open_tcp(capped.port, upgrade_request())
    yield poll_until(lambda: web.lost.called, timeout=10)
    assert web.received.startswith(b"HTTP/1.1 429 Too Many Requests")
    raw = yield open_tcp(capped.rawsocket_port, RAW_HANDSHAKE_JSON)
    yield poll_until(lambda: raw.lost.called, timeout=10)
    assert raw.received == RAWSOCKET_TOO_MANY
    assert capped.router.metrics.value("wampchat_connections_refused_total") == 2
    sessions[0].leave()
    yield poll_until(lambda: capped.router.metrics.value("wampchat_connections_open") == 2, timeout=10)
    fourth = yield clients(capped.ws_url)
    assert fourth.is_attached() and capped.router.session_count() == 3


@pytest.fixture
def impatient(make_server):
    """A server whose connections must finish the handshake and HELLO within 0.5 s."""
    return pytest_twisted.blockon(make_server([
        "--handshake-timeout", "0.5", "--rawsocket", "tcp:0:interface=127.0.0.1"]))


@pytest_twisted.inlineCallbacks
def test_handshake_deadline_over_real_sockets(impatient, clients):
    """Silent TCP gets 408, a WebSocket without HELLO close 1008, a silent RawSocket a drop; a joined one stays."""
    silent_web = yield open_tcp(impatient.port)
    no_hello = yield open_tcp(impatient.port, upgrade_request())
    silent_raw = yield open_tcp(impatient.rawsocket_port)
    joined = yield clients(impatient.ws_url)
    for client in (silent_web, no_hello, silent_raw):
        yield poll_until(lambda: client.lost.called, timeout=10)
    assert silent_web.received.startswith(b"HTTP/1.1 408 Request Timeout")
    frames = ServerFrames()
    frames.feed(no_hello.received)
    assert frames.closed_with() == 1008
    assert silent_raw.received == b""
    assert impatient.router.metrics.value("wampchat_handshake_timeouts_total") == 3
    # The joined session arrived with the others, so its deadline has passed too: it must still work.
    yield joined.publish("app.still.here", options=PublishOptions(acknowledge=True))
    assert joined.is_attached() and impatient.router.session_count() == 1


# -- options and the service tree ---------------------------------------------------------------------

def parse(*args):
    from wampchat.tap import Options

    options = Options()
    options.parseOptions(list(args) + ["--listen", "tcp:0:interface=127.0.0.1"])
    return options


def test_option_defaults_and_one_guard_for_every_listener():
    """By default 100 connections per address and 10 s; the Site and the RawSocket factory share one guard."""
    from wampchat.tap import makeService

    options = parse("--rawsocket", "tcp:0:interface=127.0.0.1")
    assert options["max-connections-per-address"] == 100 and options["handshake-timeout"] == 10.0
    root = makeService(options)
    web = next(c for c in root if c.name.startswith("web:")).factory
    raw = next(c for c in root if c.name.startswith("rawsocket:")).factory
    assert web.guard is raw.guard
    assert (web.guard.max_per_address, web.guard.handshake_timeout) == (100, 10.0)
    custom = makeService(parse("--max-connections-per-address", "7", "--handshake-timeout", "2.5"))
    guard = next(c for c in custom if c.name.startswith("web:")).factory.guard
    assert (guard.max_per_address, guard.handshake_timeout) == (7, 2.5)


@pytest.mark.parametrize("args,why", [
    (["--max-connections-per-address", "-1"], "--max-connections-per-address"),
    (["--max-connections-per-address", "many"], "many"),
    (["--handshake-timeout", "0"], "--handshake-timeout"),
    (["--handshake-timeout", "-3"], "--handshake-timeout"),
    (["--handshake-timeout", "soon"], "soon"),
])
def test_bad_limit_options_are_usage_errors(args, why):
    """Negative caps and non-positive timeouts stop the start with a message naming the problem."""
    from twisted.python import usage

    with pytest.raises(usage.UsageError) as info:
        parse(*args)
    assert why in str(info.value)


# -- the WebSocket upgrade without twisted.web (web/websocket.py take_upgrade) --------------------------

def test_a_whole_upgrade_as_first_bytes_skips_twisted_web(monkeypatch):
    """An upgrade for /ws arriving whole on a fresh connection goes to the WebSocket protocol without a
    Request (the /ws resource is never rendered); one arriving in pieces still takes twisted.web's way."""
    from wampchat.web.websocket import RouterWebSocketResource

    rendered = []
    original = RouterWebSocketResource.render
    monkeypatch.setattr(RouterWebSocketResource, "render",
                        lambda self, request: rendered.append(request.uri) or original(self, request))
    web = WebHarness()
    assert upgraded(web.connect()).shapes() == [("wamp", 2)]
    assert rendered == []
    split = web.connect()
    request = upgrade_request()
    send(split, request[:20])
    send(split, request[20:])
    send(split, text(HELLO))
    frames = ServerFrames()
    frames.feed(split.value())
    assert frames.shapes() == [("wamp", 2)]
    assert rendered == [b"/ws"]


@pytest.mark.parametrize("head", [
    b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n",                   # no Upgrade: websocket
    b"GET /wsx HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",                    # another path
    b"GET /ws%zz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",                  # a malformed target
    b"GET /ws HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",                     # not HTTP/1.1
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc",  # a body
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n",                          # not whole yet
])
def test_what_is_not_a_plain_upgrade_is_left_to_twisted_web(head):
    from wampchat.web.websocket import direct_upgrade_head

    assert direct_upgrade_head(head) is None


def test_listeners_get_a_deep_accept_queue():
    """After a restart every client reconnects at once: Twisted's backlog of 50 would leave most waiting on
    TCP retransmits. A stream endpoint gets 4096 unless its description names a backlog."""
    from wampchat.listening import LISTEN_BACKLOG, with_backlog

    assert with_backlog("tcp:8080:interface=127.0.0.1") == f"tcp:8080:interface=127.0.0.1:backlog={LISTEN_BACKLOG}"
    assert with_backlog("tcp:8080:backlog=10") == "tcp:8080:backlog=10"
    assert with_backlog("systemd:domain=INET:index=0") == "systemd:domain=INET:index=0"
    endpoint = endpoints.serverFromString(Clock(), with_backlog("tcp:0"))
    assert endpoint._backlog == LISTEN_BACKLOG
