"""The router's per-turn write gathering (wampchat/router/write_coalescing.py), over real TCP on 127.0.0.1."""
import pytest
import pytest_twisted
from twisted.internet import defer, protocol, reactor
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.internet.testing import StringTransport

from helpers import Collector, poll_until
from wampchat.router.write_coalescing import WriteCoalescer


class Receiver(protocol.Protocol):
    """The client end: keeps every byte and notices the end of the connection."""

    def __init__(self):
        self.data = b""
        self.closed = defer.Deferred()

    def dataReceived(self, data):
        self.data += data

    def connectionLost(self, reason):
        self.closed.callback(self.data)


class ServerEnd(protocol.Protocol):
    def connectionMade(self):
        self.factory.accepted.callback(self.transport)


@pytest.fixture
def tcp_pair():
    """A function giving (server-side transport, client Receiver) of a new loopback connection."""
    listeners, clients = [], []

    @defer.inlineCallbacks
    def connect():
        factory = protocol.Factory.forProtocol(ServerEnd)
        factory.accepted = defer.Deferred()
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        listeners.append(port)
        receiver = Receiver()
        yield protocol.ClientCreator(reactor, lambda: receiver).connectTCP("127.0.0.1", port.getHost().port)
        clients.append(receiver)
        transport = yield factory.accepted
        return transport, receiver

    yield connect
    for receiver in clients:
        if receiver.transport is not None and receiver.transport.connected:
            receiver.transport.abortConnection()
    for port in listeners:
        port.stopListening()


@pytest_twisted.inlineCallbacks
def test_frames_of_one_turn_arrive_in_order_in_one_flush(tcp_pair):
    """Frames for two connections, interleaved in one turn, reach each peer in order; one flush sends all."""
    (one, first), (two, second) = (yield tcp_pair()), (yield tcp_pair())
    writes = WriteCoalescer(reactor)
    for n in range(5):
        writes.write(one, b"a%d," % n)
        writes.write(two, b"b%d," % n)
    assert not one._tempDataLen and not two._tempDataLen  # held until the turn ends, not in Twisted's buffer
    yield poll_until(lambda: first.data == b"a0,a1,a2,a3,a4," and second.data == b"b0,b1,b2,b3,b4,", timeout=5)
    assert writes.flushes == 1


@pytest_twisted.inlineCallbacks
def test_bytes_queued_in_the_transport_go_first(tcp_pair):
    """When Twisted still holds unsent bytes of the connection, gathered frames queue behind them, not before."""
    transport, receiver = yield tcp_pair()
    receiver.transport.pauseProducing()  # the peer stops reading, so the kernel buffers fill
    big = bytes(range(256)) * (4 * 1024 * 16)  # 16 MB: more than loopback's socket buffers take at once
    writes = WriteCoalescer(reactor)
    writes.write(transport, big)
    writes.write(transport, b"after")
    yield poll_until(lambda: not writes.pending, timeout=5)
    assert transport.dataBuffer or transport._tempDataLen  # the kernel did not take all of it
    writes.write(transport, b"last")
    receiver.transport.resumeProducing()
    yield poll_until(lambda: len(receiver.data) == len(big) + 9, timeout=20)
    assert receiver.data[-9:] == b"afterlast" and receiver.data[:len(big)] == big


@pytest_twisted.inlineCallbacks
def test_flush_transport_sends_before_a_close(tcp_pair):
    """A frame gathered just before the connection is closed still reaches the peer, ahead of the end."""
    transport, receiver = yield tcp_pair()
    writes = WriteCoalescer(reactor)
    writes.write(transport, b"goodbye")
    writes.flush_transport(transport)
    transport.loseConnection()
    assert (yield receiver.closed) == b"goodbye"
    writes.flush()  # the turn's flush finds nothing left for it
    assert writes.flushes == 0


@pytest_twisted.inlineCallbacks
def test_a_closed_connection_does_not_hold_back_the_others(tcp_pair):
    """Frames for a connection the peer has closed are dropped as Twisted drops them; the others' arrive."""
    (gone, gone_receiver), (alive, receiver) = (yield tcp_pair()), (yield tcp_pair())
    gone_receiver.transport.abortConnection()
    yield poll_until(lambda: not gone.connected, timeout=5)
    writes = WriteCoalescer(reactor)
    writes.write(gone, b"lost")
    writes.write(alive, b"kept")
    yield poll_until(lambda: receiver.data == b"kept", timeout=5)


@pytest.mark.parametrize("rawsocket", [False, True])
@pytest_twisted.inlineCallbacks
def test_router_events_and_results_go_through_the_turns_flush(join, router, rawsocket):
    """Over WebSocket and RawSocket, a publication's events and a call's result reach their peers through
    the router's gathered writes, in order; GOODBYE then closes cleanly."""
    publisher, subscriber = (yield join(rawsocket=rawsocket)), (yield join(rawsocket=rawsocket))
    got = Collector()
    yield subscriber.subscribe(got, "app.turns")
    yield subscriber.register(lambda: 2, "app.turns.two")
    flushes = router.router.write_coalescer.flushes
    for n in range(20):
        publisher.publish("app.turns", n)
    yield got.wait_for(20)
    assert [args[0] for args, _ in got.events] == list(range(20))
    assert (yield publisher.call("app.turns.two")) == 2
    assert router.router.write_coalescer.flushes > flushes
    yield subscriber.leave()
    assert not subscriber.is_attached()


def test_in_memory_transports_are_written_at_once():
    """A transport that is not a plain TCP connection (here the tests' StringTransport) is not gathered."""
    from twisted.internet.address import IPv4Address

    from wampchat.router.router import Router
    from wampchat.router.serializers import wamp_serializers
    from wampchat.router.transports.rawsocket import RouterRawSocketFactory

    router = Router(reactor)
    proto = RouterRawSocketFactory(router, wamp_serializers(), 64 * 1024, 1 << 20).buildProtocol(
        IPv4Address("TCP", "127.0.0.1", 40000))
    assert proto._write_coalescer is router.write_coalescer
    proto.makeConnection(StringTransport())
    proto.sendString(b"now")
    assert proto.transport.value() == b"\x00\x00\x00\x03now" and not router.write_coalescer.pending
    proto.connectionLost(Failure(ConnectionDone()))  # releases its admission and handshake timer
