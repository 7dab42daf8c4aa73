"""
In-process sessions: services inside the router talk WAMP without a socket.

``attach_local`` connects an Autobahn ``ApplicationSession`` to a
:class:`RouterSession` through a pair of in-memory transports that hand
message objects straight across (no serialization), so a service written
against Autobahn's API runs unchanged inside the router or outside it.
"""
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError, TransportLost
from autobahn.wamp.types import TransportDetails
from twisted.internet import defer

from wampchat.router.auth import Identity
from wampchat.router.ids import SequentialIds, global_id
from wampchat.router.realm import SessionInfo


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
    from wampchat.router.session import RouterSession

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
        self.request_ids = SequentialIds()
        self._result = None

    def call(self, procedure, args, kwargs):
        self._result = defer.Deferred()
        request = self.request_ids.next()
        msg = message.Call(request, procedure, args=list(args or []) or None, kwargs=dict(kwargs or {}) or None)
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
