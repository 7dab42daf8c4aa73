"""
A joined session's requests: each is authorized, checked against the session's limits, and handed to the
realm's broker or dealer.

A handler is ``handler(session, msg)`` (a :class:`~wampchat.router.session.RouterSession`), looked up in
:data:`JOINED_HANDLERS` by the message's class. It returns None when done, or a Deferred while an
asynchronous authorization rule decides (the session holds the messages after it until then).
"""
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from wampchat.router.authorize import TRUSTED
from wampchat.router.incoming_calls import ParsedCall, ParsedYield
from wampchat.router.matching import MATCH_EXACT
from wampchat.router.session_limits import refuse_over_limit


def authorized(session, uri, action, match, request_type, request, then, quiet=False):
    """Run ``then()`` when the session may do ``action`` on ``uri``; else ERROR not_authorized."""
    answer = session.realm.authorizer.authorize(session.info, uri, action, match)
    if answer is True:
        return then()

    def decide(allowed):
        if allowed:
            return then()
        session.realm.metrics.denials.value += 1
        if not quiet:
            session.send_error(request_type, request, ApplicationError.NOT_AUTHORIZED,
                               [f"session is not authorized to {action} {uri!r}"])
        return None

    if isinstance(answer, defer.Deferred):
        return answer.addCallback(decide)
    return decide(answer)


def reserved(session, uri):
    """Is ``uri`` in the router's own ``wamp.`` namespace, which only in-process services may use?"""
    return uri.startswith("wamp.") and session.info.authrole != TRUSTED


def on_goodbye(session, msg):
    session.said_goodbye = True   # its testaments are not published
    session.send(message.Goodbye("wamp.close.goodbye_and_out"))
    session.close_transport()


# -- broker ---------------------------------------------------------------------------------------------

def on_publish(session, msg):
    if reserved(session, msg.topic):
        if msg.acknowledge:
            session.send_error(message.Publish.MESSAGE_TYPE, msg.request, ApplicationError.INVALID_URI,
                               [f"{msg.topic!r}: the wamp. namespace is reserved for the router"])
        return None

    def publish():
        realm = session.realm
        disclose = realm.authorizer.role_setting(session.info.authrole, "disclose", True)
        pub_id = realm.broker.publish(session, msg, disclose)
        realm.metrics.publications.value += 1
        if msg.acknowledge:
            session.send(message.Published(msg.request, pub_id))

    return authorized(session, msg.topic, "publish", MATCH_EXACT, message.Publish.MESSAGE_TYPE, msg.request,
                      publish, quiet=not msg.acknowledge)


def on_subscribe(session, msg):
    match = msg.match or MATCH_EXACT

    def subscribe():
        broker = session.realm.broker
        if len(session.subscriptions) >= session.limits.subscriptions and not broker.is_subscribed(
                session, msg.topic, match):
            return refuse_over_limit(session, message.Subscribe.MESSAGE_TYPE, msg.request, "subscriptions")
        sub = broker.subscribe(session, msg.topic, match)

        def acknowledge(_=None):
            broker.activate(session, sub)
            session.send(message.Subscribed(msg.request, sub.id))
            if msg.get_retained and match == MATCH_EXACT:
                broker.send_retained(session, sub, msg.topic)
        routed = broker.when_routed(sub)
        if routed is None:
            return acknowledge()
        return routed.addCallback(acknowledge)

    return authorized(session, msg.topic, "subscribe", match, message.Subscribe.MESSAGE_TYPE, msg.request,
                      subscribe)


def on_unsubscribe(session, msg):
    if session.realm.broker.unsubscribe(session, msg.subscription):
        session.send(message.Unsubscribed(msg.request))
    else:
        session.send_error(message.Unsubscribe.MESSAGE_TYPE, msg.request, ApplicationError.NO_SUCH_SUBSCRIPTION,
                           [f"not subscribed to {msg.subscription}"])


# -- dealer ---------------------------------------------------------------------------------------------

def on_register(session, msg):
    match = msg.match or MATCH_EXACT
    if reserved(session, msg.procedure):
        session.send_error(message.Register.MESSAGE_TYPE, msg.request, ApplicationError.INVALID_URI,
                           [f"{msg.procedure!r}: the wamp. namespace is reserved for the router"])
        return None

    def register():
        if len(session.registrations) >= session.limits.registrations:
            return refuse_over_limit(session, message.Register.MESSAGE_TYPE, msg.request, "registrations")
        dealer = session.realm.dealer
        try:
            reg = dealer.register(session, msg.procedure, match, msg.invoke)
        except ApplicationError as e:
            session.send_error(message.Register.MESSAGE_TYPE, msg.request, e.error, list(e.args))
            return None
        claimed = dealer.claimed(reg, session)
        if claimed is None:
            session.send(message.Registered(msg.request, reg.id))
            return None

        def refused(failure):
            e = failure.value
            session.send_error(message.Register.MESSAGE_TYPE, msg.request, e.error, list(e.args))
        return claimed.addCallbacks(lambda _: session.send(message.Registered(msg.request, reg.id)), refused)

    return authorized(session, msg.procedure, "register", match, message.Register.MESSAGE_TYPE, msg.request,
                      register)


def on_unregister(session, msg):
    if session.realm.dealer.unregister(session, msg.registration):
        session.send(message.Unregistered(msg.request))
    else:
        session.send_error(message.Unregister.MESSAGE_TYPE, msg.request, ApplicationError.NO_SUCH_REGISTRATION,
                           [f"no registration {msg.registration} of this session"])


def on_call(session, msg):
    if msg.request in session.calls:
        return session.protocol_violation(f"CALL request id {msg.request} is already in use")

    def call():
        if len(session.calls) >= session.limits.calls_in_flight:
            return refuse_over_limit(session, message.Call.MESSAGE_TYPE, msg.request, "calls_in_flight")
        return session.realm.dealer.call(session, msg)

    return authorized(session, msg.procedure, "call", MATCH_EXACT, message.Call.MESSAGE_TYPE, msg.request, call)


def on_cancel(session, msg):
    session.realm.dealer.cancel(session, msg)


def on_yield(session, msg):
    session.realm.dealer.on_yield(session, msg)


def on_error(session, msg):
    if msg.request_type != message.Invocation.MESSAGE_TYPE:
        return session.protocol_violation("peers send ERROR only in answer to INVOCATION")
    session.realm.dealer.on_error(session, msg)
    return None


JOINED_HANDLERS = {
    message.Publish: on_publish,
    message.Subscribe: on_subscribe,
    message.Unsubscribe: on_unsubscribe,
    message.Register: on_register,
    message.Unregister: on_unregister,
    message.Call: on_call,
    message.Cancel: on_cancel,
    message.Yield: on_yield,
    message.Error: on_error,
    message.Goodbye: on_goodbye,
}
# the everyday CALL and YIELD as router/incoming_calls.py reads them (dispatch is by exact class)
JOINED_HANDLERS[ParsedCall] = on_call
JOINED_HANDLERS[ParsedYield] = on_yield
