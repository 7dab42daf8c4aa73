"""
RouterSession: the router's side of one peer connection.

It implements Autobahn's ITransportHandler (``onOpen``/``onMessage``/
``onClose``): HELLO -> authentication -> WELCOME, then dispatch by message
type to the realm's broker and dealer. Messages from one peer are handled in
order: while one waits on a Deferred (authentication, an asynchronous
authorization rule), the ones after it wait in a bounded backlog.
"""
from collections import deque

from autobahn.wamp import message, role
from autobahn.wamp.exception import ApplicationError, TransportLost
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.auth import Challenge, Refusal
from wampchat.router.authorize import TRUSTED
from wampchat.router.config import UNLIMITED
from wampchat.router.ids import SequentialIds, global_id
from wampchat.router.matching import MATCH_EXACT
from wampchat.router.session_info import SessionInfo

MAX_BACKLOG = 1000
_NO_BACKLOG = ()  # shared by every session with nothing waiting
LIMIT_EXCEEDED = "wampchat.error.limit_exceeded"

# SessionLimits field -> (what the message calls it, the twistd option that sets it)
_LIMIT_NAMES = {
    "subscriptions": ("subscriptions", "--max-subscriptions"),
    "registrations": ("registrations", "--max-registrations"),
    "calls_in_flight": ("calls in flight", "--max-calls-in-flight"),
}

ROUTER_ROLES = {
    "broker": role.RoleBrokerFeatures(
        publisher_identification=True,
        publisher_exclusion=True,
        subscriber_blackwhite_listing=True,
        pattern_based_subscription=True,
        session_meta_api=True,
    ),
    "dealer": role.RoleDealerFeatures(
        caller_identification=True,
        pattern_based_registration=True,
        shared_registration=True,
        call_timeout=True,
        call_canceling=True,
        progressive_call_results=True,
        session_meta_api=True,
    ),
}

# Messages only a router sends; a peer sending one breaks the protocol.
_ROUTER_ONLY = (
    message.Welcome, message.Challenge, message.Event, message.Result, message.Invocation,
    message.Interrupt, message.Published, message.Subscribed, message.Unsubscribed,
    message.Registered, message.Unregistered,
)

_CLOSED, _HELLO, _CHALLENGED, _JOINED, _CLOSING = range(5)


class RouterSession:
    """One peer: its identity, state, subscriptions, registrations and calls."""

    log = Logger()

    def __init__(self, router, identity=None):
        self._router = router
        self._preauth = identity
        self._transport = None
        self._state = _CLOSED
        self._pending_challenge = None
        self._busy = None
        self._backlog = _NO_BACKLOG  # a deque only while messages wait (most sessions never need one)
        self.realm = None
        self.realm_candidate = None
        self.info = None
        self.roles = None
        self.subscriptions = {}
        self.registrations = {}
        self.calls = {}
        self.invocations = {}
        self.request_ids = SequentialIds()
        self.limits = router.session_limits

    # -- ITransportHandler -----------------------------------------------
    def onOpen(self, transport):
        self._transport = transport
        self._state = _HELLO

    def onClose(self, wasClean):
        self._state = _CLOSED
        self._transport = None
        self._backlog = _NO_BACKLOG
        if self.realm is not None and self.info is not None:
            self.realm.detach(self)

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

    # -- sending ----------------------------------------------------------
    def send(self, msg):
        """Send one message; a peer that went away or a payload that cannot be serialized is logged, not raised."""
        transport = self._transport
        if transport is None:
            return
        try:
            transport.send(msg)
        except TransportLost:
            pass
        except Exception as e:
            self._router.metrics.errors.value += 1
            self.log.warn("could not send {msg} to session {sid}: {e}", msg=type(msg).__name__,
                          sid=self.info.id if self.info else None, e=e)
            return
        self._router.metrics.messages_out.value += 1

    def send_error(self, request_type, request, error, args=None, kwargs=None):
        self._router.metrics.errors.value += 1
        self.send(message.Error(request_type, request, error, args=args or None, kwargs=kwargs or None))

    def abort(self, reason, text):
        """ABORT with a WAMP error URI and a human-readable reason, then close."""
        self.send(message.Abort(reason, text))
        self._close_transport()

    def protocol_violation(self, text):
        self._router.metrics.protocol_violations.value += 1
        self.log.info("protocol violation by session {sid}: {text}",
                      sid=self.info.id if self.info else None, text=text)
        self.abort("wamp.error.protocol_violation", text)

    def _close_transport(self):
        transport, self._transport = self._transport, None
        self._state = _CLOSED
        if transport is not None:
            try:
                transport.close()
            except TransportLost:
                pass
        if self.realm is not None and self.info is not None:
            self.realm.detach(self)

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
        if isinstance(result, defer.Deferred):
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
            handler = self._joined_handlers.get(type(msg))
            if handler is not None:
                return handler(self, msg)
        elif state == _HELLO and isinstance(msg, message.Hello):
            return self._on_hello(msg)
        elif state == _CHALLENGED and isinstance(msg, message.Authenticate):
            return self._on_authenticate(msg)
        elif state == _CLOSING and isinstance(msg, message.Goodbye):
            self._close_transport()
            return None
        elif state == _CLOSED:
            return None
        if isinstance(msg, message.Abort):
            self._close_transport()
            return None
        if isinstance(msg, _ROUTER_ONLY):
            return self.protocol_violation(f"{type(msg).__name__.upper()} is sent by routers, not peers")
        return self.protocol_violation(f"unexpected {type(msg).__name__.upper()} in this session state")

    # -- opening ----------------------------------------------------------
    def _source(self):
        details = getattr(self._transport, "transport_details", None)
        peer = getattr(details, "peer", None)
        if peer and peer.startswith("tcp"):
            return peer.rsplit(":", 1)[0]
        return peer or "unknown"

    def _on_hello(self, hello):
        realm = self._router.get_realm(hello.realm)
        if realm is None:
            self.abort(ApplicationError.NO_SUCH_REALM, f"no realm {hello.realm!r} on this router")
            return None
        self.realm_candidate = realm
        self.roles = hello.roles
        if self._preauth is not None:
            return self._welcome(self._preauth)
        d = self._router.authenticator.hello(hello, self._source())
        d.addCallbacks(self._after_hello, self._refused)
        return d

    def _after_hello(self, outcome):
        if self._transport is None:
            return None
        if isinstance(outcome, Challenge):
            self._pending_challenge = outcome
            self._state = _CHALLENGED
            self.send(message.Challenge(outcome.method, outcome.extra))
            return None
        return self._welcome(outcome)

    def _on_authenticate(self, msg):
        pending, self._pending_challenge = self._pending_challenge, None
        self._state = _HELLO
        d = self._router.authenticator.authenticate(pending, msg.signature, self._source())
        d.addCallbacks(self._welcome, self._refused)
        return d

    def _refused(self, failure):
        failure.trap(Refusal)
        self._router.metrics.auth_failures.value += 1
        self.abort(failure.value.reason, failure.value.message)

    def _welcome(self, identity):
        if self._transport is None:
            return None
        realm = self.realm_candidate
        details = getattr(self._transport, "transport_details", None)
        info = SessionInfo(
            global_id(), realm.name, identity.authid, identity.authrole, identity.authmethod,
            identity.authprovider, dict(identity.authextra),
            {"type": "local" if self._preauth else "websocket-or-rawsocket",
             "peer": getattr(details, "peer", None) or "local"},
        )
        d = realm.run_join_hooks(info)

        def joined(_):
            if self._transport is None:
                return
            self.info = info
            self.realm = realm
            self.limits = UNLIMITED if info.authrole == TRUSTED else self._router.session_limits
            self._state = _JOINED
            realm.attach(self)  # before WELCOME: an in-process service's onJoin runs inside that send
            self.send(message.Welcome(
                info.id, ROUTER_ROLES, realm=realm.name, authid=info.authid, authrole=info.authrole,
                authmethod=info.authmethod, authprovider=info.authprovider, authextra=info.authextra or None,
            ))

        def hook_refused(failure):
            failure.trap(ApplicationError)
            self.abort(failure.value.error, failure.value.args[0] if failure.value.args else "refused")

        return d.addCallbacks(joined, hook_refused)

    # -- joined: goodbye --------------------------------------------------
    def _on_goodbye(self, msg):
        self.send(message.Goodbye("wamp.close.goodbye_and_out"))
        self._close_transport()

    # -- joined: authorization helper ---------------------------------------
    def _authorized(self, uri, action, match, request_type, request, then, quiet=False):
        """Run ``then()`` when the session may do ``action`` on ``uri``; else ERROR not_authorized."""
        answer = self.realm.authorizer.authorize(self.info, uri, action, match)
        if answer is True:
            return then()

        def decide(allowed):
            if allowed:
                return then()
            self._router.metrics.denials.value += 1
            if not quiet:
                self.send_error(request_type, request, ApplicationError.NOT_AUTHORIZED,
                                [f"session is not authorized to {action} {uri!r}"])
            return None

        if isinstance(answer, defer.Deferred):
            return answer.addCallback(decide)
        return decide(answer)

    def _limit_exceeded(self, request_type, request, limit):
        """ERROR limit_exceeded naming the per-session ``limit`` (a SessionLimits field); the session stays up."""
        allowed = getattr(self.limits, limit)
        what, option = _LIMIT_NAMES[limit]
        self._router.metrics.limit_refusals.value += 1
        self.send_error(request_type, request, LIMIT_EXCEEDED,
                        [f"too many {what}: this session already has {allowed}, the most the router allows "
                         f"({option})"],
                        {"limit": limit, "allowed": allowed})

    def _reserved(self, uri):
        return uri.startswith("wamp.") and self.info.authrole != TRUSTED

    # -- joined: broker -------------------------------------------------------
    def _on_publish(self, msg):
        if self._reserved(msg.topic):
            if msg.acknowledge:
                self.send_error(message.Publish.MESSAGE_TYPE, msg.request, ApplicationError.INVALID_URI,
                                [f"{msg.topic!r}: the wamp. namespace is reserved for the router"])
            return None

        def publish():
            disclose = self.realm.authorizer.role_setting(self.info.authrole, "disclose", True)
            pub_id = self.realm.broker.publish(self, msg, disclose)
            self._router.metrics.publications.value += 1
            if msg.acknowledge:
                self.send(message.Published(msg.request, pub_id))

        return self._authorized(msg.topic, "publish", MATCH_EXACT, message.Publish.MESSAGE_TYPE, msg.request,
                                publish, quiet=not msg.acknowledge)

    def _on_subscribe(self, msg):
        match = msg.match or MATCH_EXACT

        def subscribe():
            broker = self.realm.broker
            if len(self.subscriptions) >= self.limits.subscriptions and not broker.is_subscribed(
                    self, msg.topic, match):
                return self._limit_exceeded(message.Subscribe.MESSAGE_TYPE, msg.request, "subscriptions")
            sub = broker.subscribe(self, msg.topic, match)
            routed = broker.when_routed(sub)
            if routed is None:
                self.send(message.Subscribed(msg.request, sub.id))
                return None
            return routed.addCallback(lambda _: self.send(message.Subscribed(msg.request, sub.id)))

        return self._authorized(msg.topic, "subscribe", match, message.Subscribe.MESSAGE_TYPE, msg.request,
                                subscribe)

    def _on_unsubscribe(self, msg):
        if self.realm.broker.unsubscribe(self, msg.subscription):
            self.send(message.Unsubscribed(msg.request))
        else:
            self.send_error(message.Unsubscribe.MESSAGE_TYPE, msg.request, ApplicationError.NO_SUCH_SUBSCRIPTION,
                            [f"not subscribed to {msg.subscription}"])

    # -- joined: dealer -------------------------------------------------------
    def _on_register(self, msg):
        match = msg.match or MATCH_EXACT
        if self._reserved(msg.procedure):
            self.send_error(message.Register.MESSAGE_TYPE, msg.request, ApplicationError.INVALID_URI,
                            [f"{msg.procedure!r}: the wamp. namespace is reserved for the router"])
            return None

        def register():
            if len(self.registrations) >= self.limits.registrations:
                return self._limit_exceeded(message.Register.MESSAGE_TYPE, msg.request, "registrations")
            try:
                reg = self.realm.dealer.register(self, msg.procedure, match, msg.invoke)
            except ApplicationError as e:
                self.send_error(message.Register.MESSAGE_TYPE, msg.request, e.error, list(e.args))
            else:
                self.send(message.Registered(msg.request, reg.id))

        return self._authorized(msg.procedure, "register", match, message.Register.MESSAGE_TYPE, msg.request,
                                register)

    def _on_unregister(self, msg):
        if self.realm.dealer.unregister(self, msg.registration):
            self.send(message.Unregistered(msg.request))
        else:
            self.send_error(message.Unregister.MESSAGE_TYPE, msg.request, ApplicationError.NO_SUCH_REGISTRATION,
                            [f"no registration {msg.registration} of this session"])

    def _on_call(self, msg):
        if msg.request in self.calls:
            return self.protocol_violation(f"CALL request id {msg.request} is already in use")

        def call():
            if len(self.calls) >= self.limits.calls_in_flight:
                return self._limit_exceeded(message.Call.MESSAGE_TYPE, msg.request, "calls_in_flight")
            return self.realm.dealer.call(self, msg)

        return self._authorized(msg.procedure, "call", MATCH_EXACT, message.Call.MESSAGE_TYPE, msg.request, call)

    def _on_cancel(self, msg):
        self.realm.dealer.cancel(self, msg)

    def _on_yield(self, msg):
        self.realm.dealer.on_yield(self, msg)

    def _on_error(self, msg):
        if msg.request_type != message.Invocation.MESSAGE_TYPE:
            return self.protocol_violation("peers send ERROR only in answer to INVOCATION")
        self.realm.dealer.on_error(self, msg)
        return None

    _joined_handlers = {
        message.Publish: _on_publish,
        message.Subscribe: _on_subscribe,
        message.Unsubscribe: _on_unsubscribe,
        message.Register: _on_register,
        message.Unregister: _on_unregister,
        message.Call: _on_call,
        message.Cancel: _on_cancel,
        message.Yield: _on_yield,
        message.Error: _on_error,
        message.Goodbye: _on_goodbye,
    }

