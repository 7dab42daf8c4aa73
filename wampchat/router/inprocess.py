"""
Services running inside the router: in-process sessions joined without a socket, and their direct routes.

:func:`attach_local` connects an Autobahn ``ApplicationSession`` to a
:class:`~wampchat.router.session.RouterSession` through a pair of in-memory
transports that hand message objects straight across (no serialization), so
a service written against Autobahn's API runs unchanged inside the router or
outside it. :class:`InternalCaller` is the one-shot caller of router-side
code that calls as some user (AMQP RPC).

Such a service could register and publish with Autobahn's own API, but then
every call costs an INVOCATION, a YIELD and the Autobahn dispatch around
them, and every event a PUBLISH, all built and parsed inside one process. On
the chat send path that was about half the router's CPU. Its
:class:`DirectRoutes` skip that: a call becomes a function call (the dealer
still tracks it, so timeouts, the caller leaving and metrics work as for any
callee) and an event goes straight to the broker (observers such as the AMQP
bridge still see it).

In-process procedures are never interrupted: a service's work (a commit,
then its event) runs to its end, and a CANCEL or timeout answers the caller
at once, as for a callee that did not announce ``call_canceling``.
"""
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError, TransportLost
from autobahn.wamp.request import Registration as AutobahnRegistration
from autobahn.wamp.types import CallDetails, CallResult, TransportDetails
from twisted.internet import defer

from wampchat.router.auth_outcomes import Identity
from wampchat.router.broker import Audience
from wampchat.router.ids import SequentialIds, global_id
from wampchat.router.session import RouterSession
from wampchat.router.session_info import SessionInfo

RUNTIME_ERROR = "wamp.error.runtime_error"


# -- joining without a socket -------------------------------------------------------------------------

class _PassThrough:
    """Stands where a serializer would: messages cross as objects."""

    SERIALIZER_ID = "local"
    BINARY = False


class _LocalTransport:
    """One direction of the in-memory pipe; implements Autobahn's ITransport."""

    _serializer = _PassThrough()

    def __init__(self, kind):
        self.peer = None
        self.peer_transport = None
        self._open = True
        self.transport_details = TransportDetails(channel_type=TransportDetails.CHANNEL_TYPE_FUNCTION,
                                                  peer="local", is_server=kind == "router")

    def send(self, msg):
        if not self._open:
            raise TransportLost()
        self.peer.onMessage(msg)

    def isOpen(self):
        return self._open

    def close(self):
        if not self._open:
            return
        self._open = False
        self.peer_transport._open = False
        self.peer.onClose(True)
        self.peer_transport.peer.onClose(True)

    abort = close


def attach_local(realm, session, authid, authrole="trusted", authextra=None):
    """Join ``session`` (an ApplicationSession) to ``realm`` in-process as (authid, authrole).

    The session's ``onConnect`` runs now; its usual ``self.join(realm.name)``
    completes at once. Returns the router side, whose ``leave()`` ends it.
    """
    router_side = RouterSession(realm.router, Identity(authid, authrole, "local", "local", authextra or {}))
    to_router, to_app = _LocalTransport("app"), _LocalTransport("router")
    to_router.peer, to_router.peer_transport = router_side, to_app
    to_app.peer, to_app.peer_transport = session, to_router
    router_side.onOpen(to_app)
    session.onOpen(to_router)
    return router_side


class InternalCaller:
    """A one-shot caller for calls made by router-side code (e.g. AMQP RPC)."""

    def __init__(self, realm, authid, authrole):
        self.realm = realm
        self.info = SessionInfo(global_id(), realm.name, authid, authrole, "internal", "internal",
                                {}, {"type": "internal"})
        self.roles = None
        self.subscriptions, self.registrations, self.calls, self.invocations = {}, {}, {}, {}
        self.revoked_subscriptions = set()
        self.request_ids = SequentialIds()
        self._result = None

    def call(self, procedure, args, kwargs):
        request = self.request_ids.next()
        msg = message.Call(request, procedure, args=list(args or []) or None, kwargs=dict(kwargs or {}) or None)
        return self.call_message(msg)

    def call_message(self, msg):
        """Route a CALL message (its options, such as ``timeout``, kept); Deferred of (args, kwargs)."""
        self._result = defer.Deferred()
        procedure = msg.procedure
        answer = self.realm.authorizer.authorize(self.info, procedure, "call", "exact")
        d = answer if isinstance(answer, defer.Deferred) else defer.succeed(answer)
        d.addCallback(self._route, msg)
        d.addErrback(self._fail)
        return self._result

    def _route(self, allowed, msg):
        if not allowed:
            self.realm.metrics.denials.value += 1
            raise ApplicationError(ApplicationError.NOT_AUTHORIZED,
                                   f"{self.info.authid} ({self.info.authrole}) may not call {msg.procedure}")
        self.realm.dealer.call(self, msg)

    def _fail(self, failure):
        if not self._result.called:
            self._result.errback(failure)

    def send(self, msg):
        if self._result.called:
            return
        if isinstance(msg, message.Result):
            if not msg.progress:
                self._result.callback((msg.args or [], msg.kwargs or {}))
        elif isinstance(msg, message.Error):
            self._result.errback(ApplicationError(msg.error, *(msg.args or []), **(msg.kwargs or {})))

    def send_error(self, request_type, request, error, args=None, kwargs=None):
        self.realm.metrics.errors.value += 1
        self.send(message.Error(request_type, request, error, args=args or None, kwargs=kwargs or None))


# -- direct routes --------------------------------------------------------------------------------------

class LocalProcedure:
    """A registered function, called with the CALL's arguments plus ``details`` (Autobahn's CallDetails)."""

    __slots__ = ("fn", "_registration")

    def __init__(self, fn, registration_id, uri):
        self.fn = fn
        self._registration = AutobahnRegistration(None, registration_id, uri, None)

    def invoke(self, msg, caller):
        """Deferred of the result; ``caller`` (SessionInfo) is always disclosed to an in-process service."""
        kwargs = dict(msg.kwargs) if msg.kwargs else {}  # a caller's own "details" is replaced, as in Autobahn
        kwargs["details"] = CallDetails(self._registration, caller=caller.id, caller_authid=caller.authid,
                                        caller_authrole=caller.authrole, procedure=msg.procedure)
        return defer.maybeDeferred(self.fn, *(msg.args or ()), **kwargs)  # a value, Deferred or coroutine


def as_yield(result):
    """(args, kwargs) of a procedure's result, the way an Autobahn callee would YIELD it."""
    if isinstance(result, CallResult):
        return list(result.results) or None, result.kwresults or None
    return [result], None


def as_error(exc):
    """(error uri, args, kwargs) of a procedure's exception, the way an Autobahn callee would answer it."""
    if isinstance(exc, ApplicationError):
        return exc.error, list(exc.args) or None, exc.kwargs or None
    return RUNTIME_ERROR, [f"{type(exc).__name__}: {exc}"], None


class DirectRoutes:
    """What an in-process service registers and publishes through (see the module docstring)."""

    def __init__(self, realm, session):
        self._realm = realm
        self._session = session  # the router side of the service's in-process session
        self._disclose = realm.authorizer.role_setting(session.info.authrole, "disclose", True)

    def register(self, uri, fn):
        """Register ``fn`` for exactly ``uri`` (single callee); a Deferred, like Autobahn's ``register``."""
        try:
            self._realm.dealer.register_local(self._session, uri, fn)
        except ApplicationError:
            return defer.fail()
        return defer.succeed(None)

    def watch_sessions(self, joined, left):
        """``joined(details)`` and ``left(session_id, authid, authrole)`` for every client session joining
        and leaving, called directly (what wamp.session.on_join/on_leave carry), while the service is joined."""
        self._realm.meta.watch(self._session, joined, left)

    def publish(self, topic, args=None, kwargs=None, eligible_authid=None):
        """Publish as the service (a trusted session may publish anywhere); ``eligible_authid`` limits
        who receives it. Returns the publication id."""
        if self._realm.session(self._session.info.id) is not self._session:
            raise TransportLost()  # the service left: as Autobahn's publish on a session that is gone
        audience = Audience(eligible_authid=eligible_authid) if eligible_authid is not None else None
        pub_id = self._realm.broker.publish_from(self._session.info, topic, args, kwargs, self._disclose,
                                                 self._session, audience)
        self._realm.metrics.publications.value += 1
        return pub_id
