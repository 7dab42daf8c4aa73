"""
The router's WebSocket and RawSocket transports (Autobahn's, tuned for a router).

What they add to Autobahn's server protocols:

- a bounded outbound buffer: once the kernel and Twisted's write buffer are
  full (Twisted pauses our producer), the bytes we keep sending are counted;
  past ``outbound_buffer`` the peer is dropped with a logged reason, so one
  client that does not read cannot make the router's memory grow;
- a malformed or invalid WAMP message ends the session with ABORT
  ``wamp.error.protocol_violation`` and a reason, instead of a bare close;
- an EVENT is framed once per serializer and the same frame bytes are written
  to every WebSocket subscriber (see DESIGN.md, "Rules that keep it fast");
- a :class:`ConnectionGuard` caps open connections per source address and
  closes connections that have not finished their handshake and sent HELLO
  within the handshake timeout.
"""
import struct

from autobahn.twisted.rawsocket import WampRawSocketServerFactory, WampRawSocketServerProtocol
from autobahn.twisted.websocket import WampWebSocketServerFactory, WampWebSocketServerProtocol
from autobahn.wamp import message
from autobahn.wamp.exception import InvalidUriError, ProtocolError, SerializationError, TransportLost
from autobahn.websocket.protocol import TrafficStats, WebSocketProtocol
from twisted.internet import protocol, tcp
from twisted.internet.interfaces import IPushProducer
import txaio
from zope.interface import implementer

_STATE_OPEN = WebSocketProtocol.STATE_OPEN
_EVENT_TUPLES = {}  # one tuple per distinct list of events (every connection has the same one)
_HANDSHAKE_LEFTOVERS = ("http_request_data", "http_response_data", "http_status_line", "http_request_uri",
                        "http_request_params", "http_request_host", "_wskey")
_NO_LIMIT = 1 << 62
_RAWSOCKET_LENGTH = struct.Struct("!I")  # a RawSocket message's 4-byte length prefix
_TCP = tcp.Server  # the transports whose writes a router gathers per turn (router/write_coalescing.py)
# Autobahn's message constructors check some field types with assert (e.g. PUBLISH args
# that are not a list), so AssertionError means "invalid message" too.
_UNPARSEABLE = (ProtocolError, InvalidUriError, SerializationError, ValueError, TypeError, KeyError,
                AssertionError)


# -- connection limits ----------------------------------------------------------------------------

class ConnectionGuard:
    """Caps open connections per source address and enforces the handshake deadline.

    One guard serves every listener of a process (the web Site with its
    ``/ws`` and every RawSocket port), so the cap is per address across all
    of them. A listener asks :meth:`admit` when a TCP connection arrives; an
    address already at ``max_per_address`` gets ``None`` and the listener
    answers with its refusal. Every admitted connection must finish its
    handshake (HTTP request headers, or WebSocket upgrade / RawSocket
    handshake and the first WAMP message, HELLO) within ``handshake_timeout``
    seconds of arriving, or it is closed. ``clock`` is the reactor (a Clock in tests).
    """

    def __init__(self, clock, metrics, max_per_address=100, handshake_timeout=10.0):
        self.clock = clock
        self.max_per_address = max_per_address
        self.handshake_timeout = handshake_timeout
        self.open = 0
        self._per_address = {}
        self._by_transport = {}
        self.refusals = metrics.counter("wampchat_connections_refused_total",
                                        "connections refused because their address had too many open")
        self.timeouts = metrics.counter("wampchat_handshake_timeouts_total",
                                        "connections closed for not finishing the handshake and HELLO in time")
        metrics.gauge("wampchat_connections_open", "TCP connections open on the web and RawSocket ports",
                      lambda: self.open)

    def admit(self, addr):
        """An :class:`Admission` for a new connection from ``addr``, or None when its address is at the cap.

        Addresses without a host (UNIX sockets, in-memory tests) are not capped.
        """
        host = getattr(addr, "host", None)
        if host is not None and self.max_per_address:
            if self._per_address.get(host, 0) >= self.max_per_address:
                self.refusals.value += 1
                return None
            self._per_address[host] = self._per_address.get(host, 0) + 1
        self.open += 1
        return Admission(self, host)

    def claim(self, transport):
        """The admission of the connection under ``transport``, for the protocol taking it over (the
        WebSocket protocol after twisted.web's upgrade), or None when no listener of this guard admitted it."""
        return self._by_transport.get(transport)

    def _forget(self, admission):
        self.open -= 1
        host = admission.host
        if host is not None and host in self._per_address:
            left = self._per_address[host] - 1
            if left:
                self._per_address[host] = left
            else:
                del self._per_address[host]
        if admission.transport is not None:
            self._by_transport.pop(admission.transport, None)


class Admission:
    """One admitted connection: its place in the per-address count and its handshake deadline.

    Whichever protocol currently speaks on the connection owns it: ``start``
    (the first protocol) or ``hand_over`` (one that takes the transport over)
    says what to do when the deadline passes; ``handshake_done`` stops the
    clock; ``release`` (idempotent) gives the place back when the connection ends.
    """

    def __init__(self, guard, host):
        self.guard = guard
        self.host = host
        self.transport = None
        self._deadline = None
        self._expire = None
        self._released = False

    def start(self, transport, expire):
        """The connection is up under ``transport``; call ``expire()`` if the handshake is not done in time."""
        self.transport = transport
        self.guard._by_transport[transport] = self
        self._expire = expire
        if self.guard.handshake_timeout:
            self._deadline = self.guard.clock.callLater(self.guard.handshake_timeout, self._expired)

    def hand_over(self, expire):
        """A new protocol owns the connection; the deadline keeps counting from the connection's arrival.

        When the old owner had already finished its handshake (an HTTP request
        on a kept-alive connection before an upgrade), the new one gets a
        fresh deadline.
        """
        self._expire = expire
        if self._deadline is None and self.guard.handshake_timeout and not self._released:
            self._deadline = self.guard.clock.callLater(self.guard.handshake_timeout, self._expired)

    def handshake_done(self):
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def release(self):
        if self._released:
            return
        self._released = True
        self.handshake_done()
        self.guard._forget(self)

    def _expired(self):
        self._deadline = None
        self.guard.timeouts.value += 1
        self._expire()


class RefusedConnection(protocol.Protocol):
    """Answers a connection over the per-address cap with ``answer`` (HTTP 429, or RawSocket error 4) and closes."""

    def __init__(self, answer):
        self.answer = answer

    def connectionMade(self):
        self.transport.write(self.answer)
        self.transport.loseConnection()

    def dataReceived(self, data):
        """Whatever the client sent before it read the refusal is ignored."""


# RawSocket spec: a handshake reply 0x7F, error code 4 in the high nibble ("maximum connection count reached").
RAWSOCKET_TOO_MANY = bytes((0x7F, 0x40, 0, 0))


@implementer(IPushProducer)
class OutboundBudget:
    """Counts bytes written while the transport's buffer is full; trips past ``limit``."""

    def __init__(self, limit):
        self.limit = limit
        self.paused = False
        self.pending = 0

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False
        self.pending = 0

    def stopProducing(self):
        self.paused = False

    def spend(self, nbytes):
        """Record ``nbytes`` written; True when the peer is over its budget."""
        if not self.paused:
            return False
        self.pending += nbytes
        return self.pending > self.limit


def _install_budget(transport, limit):
    budget = OutboundBudget(limit)
    if getattr(transport, "producer", None) is not None:
        transport.unregisterProducer()  # twisted.web's HTTPChannel, left over from the upgrade
    transport.registerProducer(budget, True)
    return budget


class _RouterTransportMixin:
    """Shared by both transports: the budget and the protocol-violation path."""

    log = txaio.make_logger()  # Autobahn's protocols call log.trace(), which twisted's Logger lacks
    _budget = None
    _write_coalescer = None  # the router's WriteCoalescer (set by the factory)

    def _gather(self, frame):
        """Leave ``frame`` to the router's per-turn writes if this is a plain TCP connection; False if not."""
        transport = self.transport
        if type(transport) is _TCP and self._write_coalescer is not None:
            self._write_coalescer.write(transport, frame)
            return True
        return False

    def _flush_coalesced_writes(self):
        """Send this connection's gathered frames now: another write or a close must come after them."""
        if self._write_coalescer is not None:
            self._write_coalescer.flush_transport(self.transport)

    def _start_budget(self):
        if self.factory.outbound_buffer and self.transport is not None:
            self._budget = _install_budget(self.transport, self.factory.outbound_buffer)

    def _spend(self, nbytes):
        if self._budget is not None and self._budget.spend(nbytes):
            self._drop_slow_consumer()
            return False
        return True

    def _drop_slow_consumer(self):
        session = self._session
        self.log.warn("dropping session {sid}: outbound buffer limit of {limit} bytes exceeded "
                      "(the peer does not read)", sid=getattr(getattr(session, "info", None), "id", None),
                      limit=self._budget.limit)
        router = self.factory.router
        router.metrics.slow_consumers.value += 1
        self._budget = None
        self.transport.abortConnection()

    def _bad_message(self, error):
        session = self._session
        if session is not None and hasattr(session, "protocol_violation"):
            session.protocol_violation(f"invalid WAMP message: {error}")
        else:
            self._flush_coalesced_writes()
            self.transport.loseConnection()


class _SendQueue:
    """Autobahn's queue for chopped and synchronous writes, which the router never makes: a list made
    on first use, so an idle connection does not hold an empty deque (760 bytes) for it."""

    __slots__ = ("_items",)

    def __init__(self):
        self._items = None

    def __len__(self):
        return len(self._items) if self._items else 0

    def append(self, item):
        if self._items is None:
            self._items = []
        self._items.append(item)

    def popleft(self):
        return self._items.pop(0)


class RouterWebSocketProtocol(_RouterTransportMixin, WampWebSocketServerProtocol):
    """WAMP over WebSocket, router side."""

    _abort_call = None
    _admission = None
    _awaiting_hello = None

    def set_valid_events(self, valid_events=None):
        """Autobahn gives each connection a list of its events and a dict for their results; one
        shared tuple does, and the dict is made only for a connection that gets a listener."""
        events = tuple(valid_events or ())
        self._valid_events = _EVENT_TUPLES.setdefault(events, events)

    def on(self, event, handler):
        if self._results is None:
            self._results = {}
        super().on(event, handler)

    def connectionMade(self):
        super().connectionMade()
        self.send_queue = _SendQueue()
        # Autobahn's per-connection byte and frame counters: nothing reads them per connection, so
        # every connection of the factory adds to one
        self.trafficStats = self.factory.traffic
        guard = self.factory.guard
        admission = guard.claim(self.transport) if guard is not None else None
        if admission is not None:
            self._admission = self._awaiting_hello = admission
            admission.hand_over(self._handshake_expired)

    def _handshake_expired(self):
        """No WebSocket upgrade or no HELLO in time: close 1008 if the WebSocket is open, then drop TCP."""
        timeout = self.factory.guard.handshake_timeout
        self.log.info("closing a connection from {peer}: no WAMP HELLO within {timeout} s", peer=self.peer,
                      timeout=timeout)
        if self.state == _STATE_OPEN:
            self.sendCloseFrame(WebSocketProtocol.CLOSE_STATUS_CODE_POLICY_VIOLATION,
                                f"no WAMP HELLO within {timeout:g} s".encode("utf-8"))
        self.dropConnection(abort=True)

    def onOpen(self):
        self._start_budget()
        super().onOpen()
        # the opening handshake's texts are not read again once the WebSocket is open (the session's
        # transport details were taken from them already); an idle session need not keep them
        for name in _HANDSHAKE_LEFTOVERS:
            setattr(self, name, None)

    def dataReceived(self, data):
        """Complete, unfragmented, masked data frames skip Autobahn's frame machinery.

        Anything else (control frames, fragments, reserved bits or opcodes,
        unmasked frames, a 16-bit length that is not minimal, 64-bit lengths,
        oversize frames, a partial frame, a message in progress) goes to
        Autobahn as is, so its RFC 6455 checks and close codes still apply.
        """
        if self.state != _STATE_OPEN or self.data or self.current_frame is not None or self.inside_message:
            return super().dataReceived(data)
        pos, end = 0, len(data)
        limit = min(self.maxFramePayloadSize or _NO_LIMIT, self.maxMessagePayloadSize or _NO_LIMIT)
        while end - pos >= 6:
            first, second = data[pos], data[pos + 1]
            if (first != 0x81 and first != 0x82) or not second & 0x80:
                break
            size, head = second & 0x7F, pos + 2
            if size == 126:
                if end - pos < 8:
                    break
                size, head = int.from_bytes(data[head:head + 2], "big"), head + 2
                if size < 126:
                    break  # not the minimal length encoding: Autobahn fails it with 1002
            elif size == 127:
                break
            start = head + 4
            if size > limit or end - start < size:
                break
            payload = _unmask(data[start:start + size], data[head:start])
            pos = start + size
            self.onMessage(payload, first == 0x82)
            if self.state != _STATE_OPEN:
                return None
        if pos < end:
            return super().dataReceived(data[pos:] if pos else data)
        return None

    def onMessage(self, payload, isBinary):
        """One complete WebSocket message, from the fast path or from Autobahn's (fragments reassembled)."""
        session = self._session
        if session is None:
            return
        if not isBinary and not payload.isascii() and not _is_utf8(payload):
            self._fail_connection(WebSocketProtocol.CLOSE_STATUS_CODE_INVALID_PAYLOAD,
                                  "invalid UTF-8 in a text message")
            return
        if self._awaiting_hello is not None:
            self._awaiting_hello, admission = None, self._awaiting_hello
            admission.handshake_done()
        try:
            messages = self._serializer.unserialize(payload, isBinary)
        except _UNPARSEABLE as e:
            self._bad_message(e)
            return
        for msg in messages:
            session.onMessage(msg)

    def send(self, msg):
        if self._session is None:
            raise TransportLost()
        if type(msg) is message.Event:
            frame = self._event_frame(msg)
        else:
            payload, is_binary = self._serializer.serialize(msg)
            frame = websocket_frame(payload, is_binary)
        if not self._spend(len(frame)):
            return
        if self.state == _STATE_OPEN and not self.send_queue and self._perMessageCompress is None:
            if not self._gather(frame):
                self.transport.write(frame)  # Autobahn's sendMessage/sendData cost more than the write itself
        else:
            self.sendMessage(*self._serializer.serialize(msg))

    def sendData(self, data, sync=False, chopsize=None):
        """Every other write (Autobahn's frames: close, pong, fragments) comes after the gathered ones."""
        self._flush_coalesced_writes()
        super().sendData(data, sync, chopsize)

    def _closeConnection(self, abort=False):
        """End TCP without throwing away a close frame that is still in the write buffer.

        Autobahn aborts the connection when it takes the peer's close frame as
        the end of the closing handshake, even when that frame was invalid and
        the router has just written its own close (1002/1007) in answer: an
        abort would discard it unsent. So close gracefully, and abort only if
        the peer has not let the buffer drain after the close handshake timeout.
        """
        self._flush_coalesced_writes()
        if not abort:
            return super()._closeConnection(False)
        self.transport.loseConnection()
        if self._abort_call is None:
            grace = self.closeHandshakeTimeout or 1.0
            self._abort_call = self.factory.router.reactor.callLater(grace, self.transport.abortConnection)
        return None

    def connectionLost(self, reason):
        if self._abort_call is not None and self._abort_call.active():
            self._abort_call.cancel()
        self._abort_call = None
        if self._admission is not None:
            self._admission.release()
        super().connectionLost(reason)

    def _event_frame(self, msg):
        """The complete WebSocket frame for an EVENT, built once per serializer.

        Autobahn keeps a message's serialized bytes in ``msg._serialized``
        keyed by object serializer; the frame rides along under a tuple key.
        """
        object_serializer = self._serializer._serializer
        key = ("ws-frame", object_serializer)
        cache = msg._serialized
        frame = cache.get(key)
        if frame is None:
            frame = websocket_frame(msg.serialize(object_serializer), object_serializer.BINARY)
            cache[key] = frame
        return frame


def _is_utf8(payload):
    """Whether ``payload`` is valid UTF-8 (RFC 3629: no surrogates, no overlong forms, at most U+10FFFF)."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _unmask(payload, mask):
    """XOR a client frame's payload with its 4-byte mask, as one big integer."""
    size = len(payload)
    if not size:
        return b""
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(size, "little")


def websocket_frame(payload, binary):
    """One unfragmented, unmasked (server-to-client) WebSocket frame (RFC 6455 §5.2)."""
    first = 0x82 if binary else 0x81
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


class RouterWebSocketFactory(WampWebSocketServerFactory):
    """WebSocket factory for ``/ws``: builds RouterWebSocketProtocol with the router's limits."""

    protocol = RouterWebSocketProtocol

    def __init__(self, router, serializers, max_message_size, outbound_buffer, url=None, guard=None):
        """``guard`` is the ConnectionGuard of the Site in front: the WebSocket protocol takes over the
        admission of the HTTP connection it upgrades (the Site admitted it; this factory admits nothing)."""
        self.router = router  # before Autobahn's __init__, which sets the protocol options
        super().__init__(router.session_factory, serializers=serializers, url=url)
        self.outbound_buffer = outbound_buffer
        self.guard = guard
        self.traffic = TrafficStats()
        self.setProtocolOptions(
            maxMessagePayloadSize=max_message_size,
            maxFramePayloadSize=max_message_size,
            autoPingInterval=30,
            autoPingTimeout=20,
            # onMessage checks each whole text message once with Python's strict UTF-8 decoder
            # (close 1007), the same on the fast path and on Autobahn's
            utf8validateIncoming=False,
            failByDrop=False,  # send the close code (e.g. 1009 for oversize) instead of just dropping TCP
        )

    def setProtocolOptions(self, **options):
        super().setProtocolOptions(**options)
        # Autobahn copies every option (about 30) onto each new protocol instance unless its class
        # has it; a class of this factory's own that holds them keeps an idle session smaller.
        base = RouterWebSocketProtocol
        options = {name: getattr(self, name) for name in base.CONFIG_ATTRS}
        # a function held as a class attribute would become a method: keep it a plain callable
        options = {k: staticmethod(v) if callable(v) else v for k, v in options.items()}
        options["_write_coalescer"] = self.router.write_coalescer
        self.protocol = type(base.__name__, (base,), options)


class RouterRawSocketProtocol(_RouterTransportMixin, WampRawSocketServerProtocol):
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
        except _UNPARSEABLE as e:
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
