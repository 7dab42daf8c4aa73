"""
WAMP over HTTP long-poll, router side: the transport Crossbar serves and AutobahnJS speaks, for browsers
whose network blocks WebSocket. It knows nothing of HTTP (wampchat/web/longpoll.py maps requests on it).

A client opens a transport and gets an unguessable id bound to its address; it POSTs WAMP messages to it
and long-polls for the router's. Each transport feeds a RouterSession exactly as a WebSocket does, and
stays within the same limits: the ConnectionGuard counts it as one of its address's connections and gives
it the HELLO deadline, and what the router queues for a client that stops polling is bounded in messages
and bytes (the outbound budget) - past either bound, or when the client has not polled for
``idle_timeout`` seconds, the transport is closed and its session ends.
"""
import secrets
from collections import deque
from typing import Callable, Deque, Dict, Optional

from autobahn.wamp.exception import TransportLost
from autobahn.wamp.types import TransportDetails
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.serializers import RouterJsonSerializer
from wampchat.router.transports.base import UNPARSEABLE

GONE = object()  # what a receive on a closed transport answers (the web resource says 404)
PROTOCOLS = ("wamp.2.json", "wamp.2.json.batched")  # AutobahnJS asks for the first: one message per receive


class LongPollTransport:
    """One long-poll transport: Autobahn's ITransport for its RouterSession, and the queue receives drain."""

    log = Logger()

    def __init__(self, registry: "LongPollTransports", transport_id: str, host: str, port: int,
                 protocol: str, admission) -> None:
        self.registry = registry
        self.id = transport_id
        self.host = host
        self.protocol = protocol
        self._serializer = registry.serializers[protocol]
        self._batched = protocol.endswith(".batched")
        family = "tcp6" if ":" in host else "tcp4"
        self.transport_details = TransportDetails(channel_type=TransportDetails.CHANNEL_TYPE_TCP,
                                                  peer=f"{family}:{host}:{port}", is_server=True)
        self._admission = admission
        self._awaiting_hello = admission
        self._queue: Deque[bytes] = deque()
        self._queued_bytes = 0
        self._waiting: Optional[defer.Deferred] = None
        self._poll_timer = None
        self._idle_timer = None
        self._open = True
        self._session = registry.router.session_factory()
        self._session.onOpen(self)
        if admission is not None:
            admission.start(self, self._hello_expired)
        self._restart_idle_timer()

    # -- what the session uses (Autobahn's ITransport) ------------------------------------------------
    def send(self, msg) -> None:
        if not self._open:
            raise TransportLost()
        payload, _ = self._serializer.serialize(msg)
        self._queue.append(payload)
        self._queued_bytes += len(payload)
        if len(self._queue) > self.registry.max_queued_messages or self._queued_bytes > self.registry.max_queued_bytes:
            self._drop_slow_consumer()
        elif self._waiting is not None:
            self._answer(self._take())

    def isOpen(self) -> bool:
        return self._open

    def close(self) -> None:
        """End the session; what is already queued (a GOODBYE or ABORT) is still handed to the next receive."""
        if not self._open:
            return
        self._open = False
        if self._admission is not None:
            self._admission.release()
        if self._waiting is not None and not self._queue:
            self._answer(GONE)
        self._session.onClose(True)

    abort = close

    # -- what the web resource uses ------------------------------------------------------------------
    def incoming(self, payload: bytes) -> None:
        """One POSTed body: one WAMP message (or a batch, for wamp.2.json.batched) for the session."""
        self._restart_idle_timer()
        if not self._open:
            return
        if self._awaiting_hello is not None:
            self._awaiting_hello, admission = None, self._awaiting_hello
            admission.handshake_done()
        try:
            messages = self._serializer.unserialize(payload)
        except UNPARSEABLE as e:
            self._session.protocol_violation(f"invalid WAMP message: {e}")
            return
        for msg in messages:
            self._session.onMessage(msg)

    def receive(self) -> defer.Deferred:
        """A Deferred of what to answer a receive: queued bytes, None (nothing within the poll timeout), or
        GONE. Cancelling it (the client went away) frees the slot; a second receive answers the first empty."""
        if self._waiting is not None:
            self._answer(None)
        self._cancel_idle_timer()
        if self._queue:
            answer = defer.succeed(self._take())
            self._restart_idle_timer()
            return answer
        if not self._open:
            self._restart_idle_timer()
            return defer.succeed(GONE)
        self._waiting = defer.Deferred(self._receive_cancelled)
        self._poll_timer = self.registry.clock.callLater(self.registry.poll_timeout, self._answer, None)
        return self._waiting

    def end(self) -> None:
        """The client closed the transport (or stopped polling): close it and forget it."""
        self.close()
        self._cancel_idle_timer()
        self._queue.clear()
        self._queued_bytes = 0
        if self._waiting is not None:
            self._answer(GONE)
        self.registry.forget(self)

    # -- inside -------------------------------------------------------------------------------------
    def _take(self) -> bytes:
        """The next answer: one message, or every queued one for a batched transport."""
        if self._batched:
            payload = b"".join(self._queue)
            self._queue.clear()
        else:
            payload = self._queue.popleft()
        self._queued_bytes -= len(payload)
        return payload

    def _answer(self, answer) -> None:
        waiting, self._waiting = self._waiting, None
        if self._poll_timer is not None and self._poll_timer.active():
            self._poll_timer.cancel()
        self._poll_timer = None
        self._restart_idle_timer()
        if waiting is not None:
            waiting.callback(answer)

    def _receive_cancelled(self, d: defer.Deferred) -> None:
        if self._waiting is d:
            self._waiting = None
            if self._poll_timer is not None and self._poll_timer.active():
                self._poll_timer.cancel()
            self._poll_timer = None
            self._restart_idle_timer()

    def _restart_idle_timer(self) -> None:
        self._cancel_idle_timer()
        self._idle_timer = self.registry.clock.callLater(self.registry.idle_timeout, self._idle)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None and self._idle_timer.active():
            self._idle_timer.cancel()
        self._idle_timer = None

    def _idle(self) -> None:
        self._idle_timer = None
        self.log.info("closing long-poll transport of {peer}: no request for {timeout} s",
                      peer=self.transport_details.peer, timeout=self.registry.idle_timeout)
        self.end()

    def _hello_expired(self) -> None:
        self.log.info("closing long-poll transport of {peer}: no WAMP HELLO in time", peer=self.transport_details.peer)
        self.end()

    def _drop_slow_consumer(self) -> None:
        self.log.warn("dropping long-poll session of {peer}: more than {messages} messages or {limit} bytes "
                      "queued (the client does not poll)", peer=self.transport_details.peer,
                      messages=self.registry.max_queued_messages, limit=self.registry.max_queued_bytes)
        self.registry.router.metrics.slow_consumers.value += 1
        self._queue.clear()
        self._queued_bytes = 0
        self.close()


class Refused(Exception):
    """A transport that is not opened: ``code`` is the HTTP status to answer, the message says why."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


class LongPollTransports:
    """The open long-poll transports of one process, by id; what ``/lp`` asks."""

    def __init__(self, router, guard, max_message_size: int, outbound_buffer: int, poll_timeout: float = 10.0,
                 idle_timeout: float = 30.0, max_queued_messages: int = 1000,
                 make_id: Callable[[], str] = lambda: secrets.token_urlsafe(24)) -> None:
        self.router = router
        self.clock = router.reactor
        self.guard = guard
        self.max_message_size = max_message_size
        self.max_queued_bytes = outbound_buffer
        self.max_queued_messages = max_queued_messages
        self.poll_timeout = poll_timeout
        self.idle_timeout = idle_timeout
        self.serializers = {protocol: RouterJsonSerializer(batched=protocol.endswith(".batched"))
                            for protocol in PROTOCOLS}
        self._make_id = make_id
        self._open: Dict[str, LongPollTransport] = {}
        self._stopped = False
        router.metrics.gauge("wampchat_longpoll_transports_open", "WAMP-over-long-poll transports open",
                             lambda: len(self._open))

    def open(self, address, protocols) -> LongPollTransport:
        """A new transport for a client at ``address`` (an IAddress) asking for ``protocols``; or Refused."""
        if not isinstance(protocols, list) or not all(isinstance(p, str) for p in protocols):
            raise Refused(400, 'the body must be {"protocols": ["wamp.2.json"]}')
        protocol = next((p for p in protocols if p in PROTOCOLS), None)
        if protocol is None:
            raise Refused(400, f"no supported protocol: this router speaks {', '.join(PROTOCOLS)}")
        if self._stopped:
            raise Refused(503, "the server is shutting down")
        admission = self.guard.admit(address) if self.guard is not None else None
        if self.guard is not None and admission is None:
            raise Refused(429, "too many connections from your address")
        transport = LongPollTransport(self, self._make_id(), address.host, address.port, protocol, admission)
        self._open[transport.id] = transport
        return transport

    def find(self, transport_id: str, host: str) -> Optional[LongPollTransport]:
        """The transport ``transport_id`` if the client at ``host`` opened it; None otherwise."""
        transport = self._open.get(transport_id)
        if transport is None or not secrets.compare_digest(transport.host, host):
            return None
        return transport

    def forget(self, transport: LongPollTransport) -> None:
        if self._open.get(transport.id) is transport:
            del self._open[transport.id]

    def close_all(self) -> None:
        """Shutting down: end every transport (their sessions leave) and open no more (a request on a
        connection kept alive past the stop must not reach a router that no longer answers)."""
        self._stopped = True
        for transport in list(self._open.values()):
            transport.end()
