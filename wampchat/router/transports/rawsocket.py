"""
WAMP over RawSocket, router side: Autobahn's protocol with the connection guard's admission and
handshake deadline, the outbound budget and the router's gathered writes (a message's 4-byte length
prefix and body written as one frame).
"""
import struct

from autobahn.twisted.rawsocket import WampRawSocketServerFactory, WampRawSocketServerProtocol

from wampchat.router.transports.base import UNPARSEABLE, RouterTransportMixin
from wampchat.router.transports.connection_guard import ConnectionGuard, RefusedConnection

_RAWSOCKET_LENGTH = struct.Struct("!I")  # a RawSocket message's 4-byte length prefix

# RawSocket spec: a handshake reply 0x7F, error code 4 in the high nibble ("maximum connection count reached").
RAWSOCKET_TOO_MANY = bytes((0x7F, 0x40, 0, 0))


class RouterRawSocketProtocol(RouterTransportMixin, WampRawSocketServerProtocol):
    """WAMP over RawSocket, router side."""

    admission = None  # set by the factory
    _awaiting_hello = None

    def connectionMade(self):
        super().connectionMade()
        self._start_budget()
        if self.admission is not None:
            self._awaiting_hello = self.admission
            self.admission.start(self.transport, self._handshake_expired)

    def _handshake_expired(self):
        """No RawSocket handshake or no HELLO in time: there is nothing to say in band, so drop TCP."""
        self.log.info("closing a RawSocket connection from {peer}: no WAMP HELLO within {timeout} s",
                      peer=self.peer, timeout=self.factory.guard.handshake_timeout)
        self.transport.abortConnection()

    def connectionLost(self, reason):
        if self.admission is not None:
            self.admission.release()
        super().connectionLost(reason)

    def stringReceived(self, payload):
        session = self._session
        if session is None:
            return
        if self._awaiting_hello is not None:
            self._awaiting_hello, admission = None, self._awaiting_hello
            admission.handshake_done()
        try:
            messages = self._serializer.unserialize(payload)
        except UNPARSEABLE as e:
            self._bad_message(e)
            return
        for msg in messages:
            session.onMessage(msg)

    def sendString(self, string):
        if self._spend(len(string) + 4):
            if not self._gather(_RAWSOCKET_LENGTH.pack(len(string)) + string):
                super().sendString(string)

    def close(self):
        """Close after the gathered frames (a GOODBYE or ABORT just sent) are on their way."""
        self._flush_coalesced_writes()
        super().close()


class RouterRawSocketFactory(WampRawSocketServerFactory):
    """RawSocket factory: builds RouterRawSocketProtocol with the router's limits."""

    protocol = RouterRawSocketProtocol

    def __init__(self, router, serializers, max_message_size, outbound_buffer, guard=None):
        """``guard`` (a ConnectionGuard, shared with the web Site) caps connections per address and
        enforces the handshake deadline; by default one with the default limits."""
        super().__init__(router.session_factory, serializers=serializers)
        self.router = router
        self.outbound_buffer = outbound_buffer
        self.guard = guard if guard is not None else ConnectionGuard(router.reactor, router.metrics)
        self.setProtocolOptions(maxMessagePayloadSize=min(max(max_message_size, 512), 2**24))

    def buildProtocol(self, addr):
        admission = self.guard.admit(addr)
        if admission is None:
            return RefusedConnection(RAWSOCKET_TOO_MANY)
        proto = super().buildProtocol(addr)
        proto.admission = admission
        proto._write_coalescer = self.router.write_coalescer
        return proto
