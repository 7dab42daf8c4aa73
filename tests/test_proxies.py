"""Client addresses behind reverse proxies (API §11): --trusted-proxy with X-Forwarded-For, --proxy-protocol
(PROXY v1 and v2), the refusals (a spoofed header from an untrusted peer), and a real nginx and HAProxy."""
import ipaddress
import os
import struct
import tempfile

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from reverse_proxies import (HAPROXY, MISSING, NGINX, closed_without_answer, join, start_haproxy, start_nginx,
                             upgrade_answer)
from wampchat.router.login_limits import RATE_LIMITED
from wampchat.router.transports.client_address import TrustedProxies, peer_string
from wampchat.router.transports.proxy_protocol import (V2_SIGNATURE, ProxyHeader, ProxyHeaderError,
                                                       ProxyProtocolFactory, parse_proxy_header)

STORE_INDEPENDENT = True
RAW = "tcp:0:interface=127.0.0.1"
needs_proxies = pytest.mark.skipif(not (os.path.exists(NGINX) and os.path.exists(HAPROXY)), reason=MISSING)


def v2(command=0x21, family=0x11, addresses=b"", extra=b""):
    """A PROXY v2 header (by default PROXY over TCP/IPv4) with ``addresses`` as its body."""
    body = addresses + extra
    return V2_SIGNATURE + struct.pack("!BBH", command, family, len(body)) + body


def v2_tcp4(source, port, destination="127.0.0.1", dport=80):
    return v2(addresses=ipaddress.ip_address(source).packed + ipaddress.ip_address(destination).packed
              + struct.pack("!HH", port, dport))


# -- the X-Forwarded-For rule -------------------------------------------------------------------------

TRUSTED = TrustedProxies(["127.0.0.1/32", "10.0.0.0/8", "::1/128"])


@pytest.mark.parametrize("peer, headers, client", [
    ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
    ("127.0.0.1", ["6.6.6.6, 203.0.113.7"], "203.0.113.7"),           # a client's own entry is left of nginx's
    ("127.0.0.1", ["203.0.113.7, 10.1.1.1"], "203.0.113.7"),          # a trusted hop is skipped
    ("127.0.0.1", ["6.6.6.6", "203.0.113.7, 10.1.1.1"], "203.0.113.7"),  # repeated headers read as one list
    ("127.0.0.1", ["10.2.2.2, 10.1.1.1"], "10.2.2.2"),               # all trusted: the leftmost
    ("127.0.0.1", ["2001:db8::5"], "2001:db8::5"),
    ("127.0.0.1", ["[2001:db8::5]:4711"], "2001:db8::5"),
    ("127.0.0.1", ["203.0.113.7:4711"], "203.0.113.7"),
    ("::ffff:127.0.0.1", ["203.0.113.7"], "203.0.113.7"),             # an IPv4-mapped peer is its IPv4 address
    ("127.0.0.1", ["1.2.3.4, unknown"], None),                        # malformed: the peer stands
    ("127.0.0.1", ["1.2.3.4, 999.1.1.1, 10.1.1.1"], None),
    ("127.0.0.1", [""], None),
    ("127.0.0.1", [], None),
    ("192.0.2.1", ["203.0.113.7"], None),                             # untrusted peer: ignored entirely
], ids=lambda value: repr(value))
def test_forwarded_client(peer, headers, client):
    assert TRUSTED.forwarded_client(peer, headers) == client


def test_no_trusted_proxy_believes_nobody():
    assert not TrustedProxies() and TrustedProxies().forwarded_client("127.0.0.1", ["203.0.113.7"]) is None


def test_a_bad_network_is_named():
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not an IP network"):
        TrustedProxies(["10.0.0.0/33"])


def test_peer_strings():
    assert (peer_string("203.0.113.7"), peer_string("2001:db8::5", 80)) == ("tcp4:203.0.113.7:0", "tcp6:2001:db8::5:80")


# -- the PROXY protocol parser ------------------------------------------------------------------------

@pytest.mark.parametrize("data, header", [
    (b"PROXY TCP4 203.0.113.7 127.0.0.1 4711 80\r\nGET", ProxyHeader(42, ("203.0.113.7", 4711))),
    (b"PROXY TCP6 2001:db8::5 ::1 4711 80\r\n", ProxyHeader(36, ("2001:db8::5", 4711))),
    (b"PROXY UNKNOWN\r\n", ProxyHeader(15, None)),
    (b"PROXY UNKNOWN ff:: ::1 1 2\r\n", ProxyHeader(28, None)),
    (v2_tcp4("203.0.113.7", 4711) + b"rest", ProxyHeader(28, ("203.0.113.7", 4711))),
    (v2(family=0x21, addresses=ipaddress.ip_address("2001:db8::5").packed + bytes(16) + struct.pack("!HH", 9, 80)),
     ProxyHeader(52, ("2001:db8::5", 9))),
    (v2(command=0x20, family=0x00), ProxyHeader(16, None)),           # LOCAL: the proxy's own health check
    (v2(family=0x12, addresses=bytes(12)), ProxyHeader(28, None)),     # UDP: not a client of ours, peer stands
    (v2(addresses=v2_tcp4("203.0.113.7", 1)[16:], extra=b"\x03\x00\x04abcd"), ProxyHeader(35, ("203.0.113.7", 1))),
])
def test_parse_proxy_header(data, header):
    assert parse_proxy_header(data) == header


@pytest.mark.parametrize("data", [b"PROX", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2", b"\r\n\r\n\x00", v2_tcp4("1.2.3.4", 1)[:20]])
def test_a_truncated_header_waits_for_more(data):
    assert parse_proxy_header(data) is None


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\n", b"\x00\x00\x00\x00", b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", b"PROXY TCP4 ::1 ::1 1 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", b"PROXY " + b"1" * 120,
    b"PROXY TCP4 1.2.3.\xff 5.6.7.8 1 2\r\n", v2(command=0x31), v2(command=0x22), v2(addresses=bytes(4)),
    V2_SIGNATURE + b"\x21\x11\xff\xff",
])
def test_garbage_is_refused(data):
    with pytest.raises(ProxyHeaderError):
        parse_proxy_header(data)


class Recorder:
    """A wrapped factory's protocol stand-in: what address it was built for and what it received."""

    def __init__(self):
        self.built, self.received, self.peer = [], b"", None

    def doStart(self):
        pass

    def doStop(self):
        pass

    def buildProtocol(self, addr):
        from twisted.internet import protocol

        recorder, self.built = self, self.built + [addr]

        class Inner(protocol.Protocol):
            def connectionMade(self):
                recorder.peer = self.transport.getPeer()

            def dataReceived(self, data):
                recorder.received += data

        return Inner()


def receiver(trusted=(), peer="127.0.0.1"):
    clock, wrapped = Clock(), Recorder()
    factory = ProxyProtocolFactory(wrapped, clock, TrustedProxies(trusted))
    proto = factory.buildProtocol(IPv4Address("TCP", peer, 5000))
    transport = StringTransport(peerAddress=IPv4Address("TCP", peer, 5000))
    transport.protocol = proto
    proto.makeConnection(transport)
    return clock, wrapped, transport


def test_the_wrapper_hands_the_rest_to_the_listener_protocol_for_the_client():
    """Bytes come in pieces; the protocol built for the client gets what follows the header."""
    _, wrapped, transport = receiver()
    data = b"PROXY TCP4 203.0.113.7 127.0.0.1 4711 80\r\nGET / HTTP/1.1\r\n"
    for i in range(0, len(data), 7):
        transport.protocol.dataReceived(data[i:i + 7])
    assert wrapped.built == [IPv4Address("TCP", "203.0.113.7", 4711)] == [wrapped.peer]
    assert wrapped.received == b"GET / HTTP/1.1\r\n" and not transport.disconnecting


def test_the_wrapper_closes_on_garbage_on_silence_and_for_untrusted_peers():
    _, wrapped, transport = receiver()
    transport.protocol.dataReceived(b"GET / HTTP/1.1\r\n")
    assert transport.disconnecting and wrapped.built == []
    clock, wrapped, transport = receiver()
    clock.advance(5)
    assert transport.disconnecting and wrapped.built == []
    _, wrapped, transport = receiver(trusted=["10.0.0.0/8"])
    assert transport.disconnecting and wrapped.built == []


# -- real sockets: X-Forwarded-For ---------------------------------------------------------------------

def peer_of(srv, session):
    """What the session meta API's ``transport`` says of ``session``: its peer."""
    return srv.router.get_realm("wampchat").session_info(session.details.session).transport["peer"]


@pytest_twisted.inlineCallbacks
def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(make_server):
    """127.0.0.1 is no --trusted-proxy: its X-Forwarded-For changes nothing, and guests are counted as it."""
    srv = yield make_server(["--guest-rate", "1", "--trusted-proxy", "10.0.0.0/8"])
    first = yield join(srv.port, headers={"X-Forwarded-For": "203.0.113.7"})
    assert peer_of(srv, first).startswith("tcp4:127.0.0.1:")
    with pytest.raises(ApplicationError) as info:
        yield join(srv.port, headers={"X-Forwarded-For": "203.0.113.8"})
    assert info.value.error == RATE_LIMITED
    first.leave()


@pytest_twisted.inlineCallbacks
def test_a_trusted_proxy_names_the_client(make_server):
    """From a --trusted-proxy the client is the header's: guests behind one proxy are limited per client."""
    srv = yield make_server(["--guest-rate", "1", "--trusted-proxy", "127.0.0.1/32"])
    a = yield join(srv.port, headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
    b = yield join(srv.port, headers={"X-Forwarded-For": "203.0.113.8"})
    assert (peer_of(srv, a), peer_of(srv, b)) == ("tcp4:203.0.113.7:0", "tcp4:203.0.113.8:0")
    with pytest.raises(ApplicationError) as info:
        yield join(srv.port, headers={"X-Forwarded-For": "203.0.113.7"})
    assert info.value.error == RATE_LIMITED
    plain = yield join(srv.port)  # no header: the proxy's own address
    assert peer_of(srv, plain).startswith("tcp4:127.0.0.1:")
    for session in (a, b, plain):
        session.leave()


@pytest_twisted.inlineCallbacks
def test_the_connection_cap_counts_the_forwarded_client(make_server):
    """--max-connections-per-address 1: one client behind the trusted proxy gets one WebSocket, another its own."""
    srv = yield make_server(["--max-connections-per-address", "1", "--trusted-proxy", "127.0.0.1/32"])
    from twisted.internet import threads

    a = yield join(srv.port, headers={"X-Forwarded-For": "203.0.113.7"})
    b = yield join(srv.port, headers={"X-Forwarded-For": "203.0.113.8"})  # the proxy itself is not capped
    answer = yield threads.deferToThread(upgrade_answer, srv.port, "203.0.113.7")
    assert answer.startswith(b"HTTP/1.1 429 ") and b"too many connections from your address" in answer
    assert srv.router.session_count() == 2
    a.leave(), b.leave()



# -- real sockets: PROXY protocol ----------------------------------------------------------------------

@pytest.mark.parametrize("rawsocket", [False, True], ids=["web", "rawsocket"])
@pytest.mark.parametrize("header", [b"PROXY TCP4 203.0.113.7 127.0.0.1 4711 80\r\n", v2_tcp4("203.0.113.7", 4711)],
                         ids=["v1", "v2"])
@pytest_twisted.inlineCallbacks
def test_a_proxy_header_names_the_client(make_server, header, rawsocket):
    srv = yield make_server(["--proxy-protocol", "--rawsocket", RAW])
    port = srv.rawsocket_port if rawsocket else srv.port
    session = yield join(port, prefix=header, rawsocket=rawsocket)
    assert peer_of(srv, session) == "tcp4:203.0.113.7:4711"
    session.leave()



@pytest_twisted.inlineCallbacks
def test_proxy_protocol_refusals(make_server):
    """With --proxy-protocol a connection without a header, with a bad one, or (with --trusted-proxy) from
    another peer is closed; the page is not served to it."""
    from twisted.internet import threads

    srv = yield make_server(["--proxy-protocol", "--rawsocket", RAW])
    for data in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"PROXY TCP4 1.2.3.4 nowhere\r\n"):
        assert (yield threads.deferToThread(closed_without_answer, srv.port, data))
    other = yield make_server(["--proxy-protocol", "--trusted-proxy", "10.0.0.0/8"])
    assert (yield threads.deferToThread(closed_without_answer, other.port, v2_tcp4("203.0.113.7", 1)))


# -- a real nginx and a real HAProxy -------------------------------------------------------------------

@pytest.fixture
def proxies():
    """Start proxy processes in a temporary directory; all are stopped at the end of the test."""
    started = []
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o755)

        def start(which, *args):
            process = which(directory, *args)
            started.append(process)
            return process

        yield start
        for process in started:
            process.stop()


@needs_proxies
@pytest_twisted.inlineCallbacks
def test_behind_nginx(make_server, proxies):
    """nginx adds the address it saw (127.0.0.5) to X-Forwarded-For; the client's own claim left of it is not
    believed."""
    srv = yield make_server(["--trusted-proxy", "127.0.0.1/32"])
    nginx = proxies(start_nginx, srv.port)
    session = yield join(nginx.ports["web"], headers={"X-Forwarded-For": "6.6.6.6"}, source="127.0.0.5")
    assert peer_of(srv, session) == "tcp4:127.0.0.5:0"
    session.leave()


@needs_proxies
@pytest_twisted.inlineCallbacks
def test_behind_haproxy(make_server, proxies):
    """HAProxy in TCP mode with send-proxy (v1) and send-proxy-v2 to the web and RawSocket listeners."""
    srv = yield make_server(["--proxy-protocol", "--trusted-proxy", "127.0.0.1/32", "--rawsocket", RAW])
    haproxy = proxies(start_haproxy, {"web1": (srv.port, "send-proxy"), "web2": (srv.port, "send-proxy-v2"),
                                      "raw2": (srv.rawsocket_port, "send-proxy-v2")})
    for name, source in (("web1", "127.0.0.6"), ("web2", "127.0.0.7"), ("raw2", "127.0.0.8")):
        session = yield join(haproxy.ports[name], rawsocket=name.startswith("raw"), source=source)
        assert peer_of(srv, session).startswith(f"tcp4:{source}:")
        session.leave()
