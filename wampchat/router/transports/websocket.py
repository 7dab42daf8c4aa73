"""
WAMP over WebSocket, router side: Autobahn's protocol with a fast path for whole data frames, an EVENT
framed once per serializer and written as is to every subscriber, the connection guard's handshake
deadline taken over from the HTTP connection it upgrades, and an idle connection kept small.
"""
from typing import Dict

from autobahn.twisted.websocket import WampWebSocketServerFactory, WampWebSocketServerProtocol
from autobahn.wamp import message
from autobahn.wamp.exception import TransportLost
from autobahn.websocket.protocol import TrafficStats, WebSocketProtocol
from autobahn.websocket.types import ConnectionDeny

from wampchat.router.transports.base import PLAIN_TCP, UNPARSEABLE, RouterTransportMixin
from wampchat.router.transports.client_address import TrustedProxies, peer_string, present_client, twisted_address
from wampchat.router.transports.send_queue import SendQueue
from wampchat.router.transports.websocket_frames import is_utf8, unmask, websocket_frame

_STATE_OPEN = WebSocketProtocol.STATE_OPEN
_EVENT_TUPLES: Dict[tuple, tuple] = {}  # one tuple per distinct list of events (every connection has the same one)
_HANDSHAKE_LEFTOVERS = ("http_request_data", "http_response_data", "http_status_line", "http_request_uri",
                        "http_request_params", "http_request_host", "_wskey")
_NO_LIMIT = 1 << 62


class RouterWebSocketProtocol(RouterTransportMixin, WampWebSocketServerProtocol):  # type: ignore[misc]  # Autobahn's bases
    """WAMP over WebSocket, router side."""

    _abort_call = None
    _admission = None
    _awaiting_hello = None
    _frame_key = None   # the key of an EVENT's frame for this connection's serializer (made once, not per frame)

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
        self.send_queue = SendQueue()
        # Autobahn's per-connection byte and frame counters: nothing reads them per connection, so
        # every connection of the factory adds to one
        self.trafficStats = self.factory.traffic
        guard = self.factory.guard
        admission = guard.claim(self.transport) if guard is not None else None
        if admission is not None:
            self._admission = self._awaiting_hello = admission
            admission.hand_over(self._handshake_expired)

    def onConnect(self, request):
        """The upgrade request, before the handshake's answer and HELLO: from a trusted proxy, its
        X-Forwarded-For names the client, which becomes this connection's peer (see client_address.py)."""
        self._take_forwarded_client(request)
        return super().onConnect(request)

    def _take_forwarded_client(self, request):
        trusted = self.factory.trusted_proxies
        if not trusted:
            return
        peer = self.transport.getPeer()
        forwarded = request.headers.get("x-forwarded-for")  # Autobahn joins repeated headers with ", "
        client = trusted.forwarded_client(getattr(peer, "host", None), [forwarded] if forwarded else [])
        if client is None:
            return
        if self._admission is not None and not self.factory.guard.rehome(self._admission, client):
            raise ConnectionDeny(429, "too many connections from your address")
        self.peer = self._transport_details.peer = peer_string(client)
        present_client(self.transport, twisted_address(client))

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
            payload = unmask(data[start:start + size], data[head:start])
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
        if not isBinary and not payload.isascii() and not is_utf8(payload):
            self._fail_connection(WebSocketProtocol.CLOSE_STATUS_CODE_INVALID_PAYLOAD,
                                  "invalid UTF-8 in a text message")
            return
        if self._awaiting_hello is not None:
            self._awaiting_hello, admission = None, self._awaiting_hello
            admission.handshake_done()
        try:
            messages = self._serializer.unserialize(payload, isBinary)
        except UNPARSEABLE as e:
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
        if self._spend(len(frame)):
            self._send_frame(msg, frame)

    def _send_frame(self, msg, frame):
        """``frame`` (``msg`` as one WebSocket frame) gathered or written at once, or ``msg`` through
        Autobahn when the connection is not a plain open one (compression, a close under way)."""
        if self.state == _STATE_OPEN and not self.send_queue._items and self._perMessageCompress is None:
            if not self._gather(frame):
                self.transport.write(frame)  # Autobahn's sendMessage/sendData cost more than the write itself
        else:
            self.sendMessage(*self._serializer.serialize(msg))

    def deliver_event(self, event):
        """The fan-out's way in (``Broker._deliver``, once per subscriber): the frame built once per
        serializer, the budget, and the turn's gathered writes, in as few calls as a frame allows."""
        if self._session is None:
            return
        frame = event._serialized.get(self._frame_key)
        if frame is None:
            frame = self._event_frame(event)
        budget = self._budget
        if budget is not None and budget.paused and budget.spend(len(frame)):
            self._drop_slow_consumer()
            return
        transport = self.transport
        coalescer = self._write_coalescer
        if (type(transport) is PLAIN_TCP and coalescer is not None and self.state == _STATE_OPEN
                and not self.send_queue._items and self._perMessageCompress is None):
            frames = coalescer.pending.get(transport)
            if frames is None:
                coalescer.write(transport, frame)
            else:
                frames.append(frame)
        else:
            self._send_frame(event, frame)

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
        key = self._frame_key
        if key is None:
            key = self._frame_key = ("ws-frame", object_serializer)
        cache = msg._serialized
        frame = cache.get(key)
        if frame is None:
            frame = websocket_frame(msg.serialize(object_serializer), object_serializer.BINARY)
            cache[key] = frame
        return frame



class RouterWebSocketFactory(WampWebSocketServerFactory):
    """WebSocket factory for ``/ws``: builds RouterWebSocketProtocol with the router's limits."""

    protocol = RouterWebSocketProtocol

    def __init__(self, router, serializers, max_message_size, outbound_buffer, url=None, guard=None,
                 trusted_proxies=None):
        """``guard`` is the ConnectionGuard of the Site in front: the WebSocket protocol takes over the
        admission of the HTTP connection it upgrades (the Site admitted it; this factory admits nothing).
        ``trusted_proxies``: the peers whose X-Forwarded-For is believed (none by default)."""
        self.router = router  # before Autobahn's __init__, which sets the protocol options
        super().__init__(router.session_factory, serializers=serializers, url=url)
        self.trusted_proxies = trusted_proxies if trusted_proxies is not None else TrustedProxies()
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
        if guard is not None and guard.handshake_timeout:
            # the guard's deadline (upgrade and HELLO) covers Autobahn's own for the upgrade, a timer
            # set and cancelled per connection
            self.setProtocolOptions(openHandshakeTimeout=0)

    def setProtocolOptions(self, **options):
        super().setProtocolOptions(**options)
        # Autobahn copies every option (about 30) onto each new protocol instance unless its class
        # has it; a class of this factory's own that holds them keeps an idle session smaller.
        base = RouterWebSocketProtocol
        options = {name: getattr(self, name) for name in base.CONFIG_ATTRS}
        # a function held as a class attribute would become a method: keep it a plain callable
        options = {k: staticmethod(v) if callable(v) else v for k, v in options.items()}
        options["_write_coalescer"] = self.router.write_coalescer
        # ... and with every option on the class, Autobahn's per-connection walk over them (a hasattr
        # and a getattr each, for a debug line) has nothing left to do
        options["CONFIG_ATTRS"] = ()
        self.protocol = type(base.__name__, (base,), options)
