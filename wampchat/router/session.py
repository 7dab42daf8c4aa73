"""
RouterSession: the router's side of one peer connection.

It implements Autobahn's ITransportHandler (``onOpen``/``onMessage``/
``onClose``) and holds what the broker and dealer keep per session. Its
opening (HELLO -> authentication -> WELCOME) is
:mod:`~wampchat.router.session_opening`; once joined, each message goes to its
handler in :mod:`~wampchat.router.session_joined`. Messages from one peer are
handled in order: while one waits on a Deferred (authentication, an
asynchronous authorization rule), the ones after it wait in a bounded backlog.
"""
from collections import deque

from autobahn.wamp import message
from autobahn.wamp.exception import TransportLost
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.ids import SequentialIds
from wampchat.router.session_joined import JOINED_HANDLERS
from wampchat.router.session_limits import limits_for
from wampchat.router.session_opening import Opening

MAX_BACKLOG = 1000
_NO_BACKLOG = ()  # shared by every session with nothing waiting

# Messages only a router sends; a peer sending one breaks the protocol.
_ROUTER_ONLY = (
    message.Welcome, message.Challenge, message.Event, message.Result, message.Invocation,
    message.Interrupt, message.Published, message.Subscribed, message.Unsubscribed,
    message.Registered, message.Unregistered,
)

_CLOSED, _OPENING, _JOINED, _CLOSING = range(4)


class RouterSession:
    """One peer: its identity, state, subscriptions, registrations and calls."""

    log = Logger()
    remote = False   # a session of this node (a callee proxy for another node's sessions is remote)
    said_goodbye = False   # the peer ended the session with GOODBYE itself (then its testaments are dropped)

    def __init__(self, router, identity=None):
        """``identity``: an in-process service's (it is not authenticated); None for a peer on a socket."""
        self._router = router
        self._opening = Opening(self, router, identity)
        self._transport = None
        self._state = _CLOSED
        self._busy = None
        self._backlog = _NO_BACKLOG  # a deque only while messages wait (most sessions never need one)
        self.realm = None
        self.info = None
        self.roles = None
        self.subscriptions = {}
        self.revoked_subscriptions = set()   # ids the router took away (Broker.revoke)
        self.registrations = {}
        self.calls = {}
        self.invocations = {}
        self.request_ids = SequentialIds()
        self.limits = router.session_limits

    # -- ITransportHandler -----------------------------------------------
    def onOpen(self, transport):
        self._transport = transport
        self._state = _OPENING
        deliver = getattr(transport, "deliver_event", None)
        if deliver is not None:
            self.send_event = deliver

    def onClose(self, wasClean):
        self._forget_transport()
        self._backlog = _NO_BACKLOG
        if self.realm is not None and self.info is not None:
            self.realm.detach(self)

    def _forget_transport(self):
        """The session is closed: no transport (nor its ``deliver_event``) any more; the one it had."""
        transport, self._transport = self._transport, None
        self._state = _CLOSED
        self.__dict__.pop("send_event", None)
        return transport

    def onMessage(self, msg):
        self._router.metrics.messages_in.value += 1
        if self._busy is not None:
            if len(self._backlog) >= MAX_BACKLOG:
                self.protocol_violation("too many requests waiting")
                return
            if self._backlog is _NO_BACKLOG:
                self._backlog = deque()
            self._backlog.append(msg)
            return
        self._handle(msg)

    # -- the transport ------------------------------------------------------
    def is_open(self):
        """Is the peer still connected (not closed, aborted or gone)?"""
        return self._transport is not None

    def transport_peer(self):
        """The peer as its transport describes it (e.g. ``tcp4:127.0.0.1:50312``), or None."""
        details = getattr(self._transport, "transport_details", None)
        return getattr(details, "peer", None)

    def send(self, msg):
        """Send one message; a peer that went away or a payload that cannot be serialized is logged, not raised."""
        if self._write(msg):
            self._router.metrics.messages_out.value += 1

    def send_event(self, event):
        """One EVENT of a fan-out, which the broker counts. While a transport with a path of its own
        for events is open (``deliver_event``), that method stands in for this one on the instance."""
        self._write(event)

    def send_failed(self, msg, error):
        """Sending ``msg`` raised ``error`` (say, it cannot be serialized): counted and logged, never raised."""
        self._router.metrics.errors.value += 1
        self.log.warn("could not send {msg} to session {sid}: {e}", msg=type(msg).__name__,
                      sid=self.info.id if self.info else None, e=error)

    def _write(self, msg):
        """``msg`` to the transport; whether it counts as sent: False without a transport or on an error
        (logged), True also when the transport was lost under it (as it always counted)."""
        transport = self._transport
        if transport is None:
            return False
        try:
            transport.send(msg)
        except TransportLost:
            return True
        except Exception as e:
            self.send_failed(msg, e)
            return False
        return True

    def send_error(self, request_type, request, error, args=None, kwargs=None):
        self._router.metrics.errors.value += 1
        self.send(message.Error(request_type, request, error, args=args or None, kwargs=kwargs or None))

    def abort(self, reason, text):
        """ABORT with a WAMP error URI and a human-readable reason, then close."""
        self.send(message.Abort(reason, text))
        self.close_transport()

    def protocol_violation(self, text):
        self._router.metrics.protocol_violations.value += 1
        self.log.info("protocol violation by session {sid}: {text}",
                      sid=self.info.id if self.info else None, text=text)
        self.abort("wamp.error.protocol_violation", text)

    def close_transport(self):
        """Close the connection now and leave the realm."""
        transport = self._forget_transport()
        if transport is not None:
            try:
                transport.close()
            except TransportLost:
                pass
        if self.realm is not None and self.info is not None:
            self.realm.detach(self)

    # -- joining and leaving ----------------------------------------------------
    def joined(self, realm, info):
        """The opening is done: from now on this session is ``info`` in ``realm`` (WELCOME follows)."""
        self.info = info
        self.realm = realm
        self.limits = limits_for(info.authrole, self._router.session_limits)
        self._state = _JOINED
        self._opening = None
        realm.attach(self)

    def leave(self, reason="wamp.close.system_shutdown", text=None):
        """Router-initiated GOODBYE (e.g. on shutdown)."""
        if self._state == _JOINED:
            self._state = _CLOSING
            self.send(message.Goodbye(reason, text))

    # -- dispatch ---------------------------------------------------------
    def _handle(self, msg):
        try:
            result = self._dispatch(msg)
        except Exception:
            self._router.metrics.errors.value += 1
            self.log.failure("internal error handling {msg}", msg=type(msg).__name__)
            self.abort("wamp.error.internal_error", "internal error; see the router log")
            return
        if result is not None and isinstance(result, defer.Deferred):   # (Deferred's isinstance goes through ABCMeta)
            self._busy = result
            result.addErrback(self._internal_failure)
            result.addBoth(self._resume)

    def _internal_failure(self, failure):
        self._router.metrics.errors.value += 1
        self.log.failure("internal error in session {sid}", failure, sid=self.info.id if self.info else None)
        self.abort("wamp.error.internal_error", "internal error; see the router log")

    def _resume(self, _):
        self._busy = None
        while self._backlog and self._busy is None:
            self._handle(self._backlog.popleft())
        if not self._backlog:
            self._backlog = _NO_BACKLOG

    def _dispatch(self, msg):
        state = self._state
        if state == _JOINED:
            handler = JOINED_HANDLERS.get(type(msg))
            if handler is not None:
                return handler(self, msg)
        elif state == _OPENING:
            step = self._opening.step_for(msg)
            if step is not None:
                return step(msg)
        elif state == _CLOSING and isinstance(msg, message.Goodbye):
            self.close_transport()
            return None
        elif state == _CLOSED:
            return None
        if isinstance(msg, message.Abort):
            self.close_transport()
            return None
        if isinstance(msg, _ROUTER_ONLY):
            return self.protocol_violation(f"{wamp_name(msg)} is sent by routers, not peers")
        return self.protocol_violation(f"unexpected {wamp_name(msg)} in this session state")


def wamp_name(msg) -> str:
    """The message's WAMP name (``CALL``), also for the router's own subclasses of Autobahn's classes."""
    cls = next((c for c in type(msg).__mro__ if c.__module__ == "autobahn.wamp.message"), type(msg))
    return cls.__name__.upper()
