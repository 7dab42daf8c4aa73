"""
The embedded WAMP router. It knows nothing about chat.

Autobahn provides the message classes, serializers and transports; this
package provides the routing: realms, sessions, a broker, a dealer,
authentication, authorization and the session meta API.

The surface that in-process services (the chat service, the AMQP bridge) use:

``Router(reactor, config)``
    ``router.realm(name)`` -> :class:`Realm`; ``router.metrics`` (a
    :class:`~wampchat.router.metrics.Metrics`: ``counter``, ``gauge`` and
    ``histogram`` on the router's own prometheus_client registry, served at
    /metrics); ``router.health`` (name -> callable returning
    a JSON-able dict, shown at /healthz); ``router.credentials`` (a
    :class:`~wampchat.router.credentials.CredentialsChain`; call
    ``add_provider(p)`` with an object whose ``get_credentials(authid)``
    returns a Deferred firing with :class:`Credentials` or None).

``attach_local(realm, session, authid, authrole="trusted")``
    (``wampchat.router.inprocess``) joins an Autobahn ``ApplicationSession`` to the
    realm without a socket. ``trusted`` may do anything; invocations sent to a
    trusted callee always disclose the caller (``details.caller``,
    ``details.caller_authid``, ``details.caller_authrole``).

``Realm``
    ``realm.session_info(session_id)`` -> :class:`SessionInfo` or None;
    ``realm.sessions()`` -> iterable of SessionInfo;
    ``realm.authorizer.add_rule(rule)``: ``rule(request)`` with
    ``request.session`` (SessionInfo), ``request.uri``, ``request.action``
    (``publish`` / ``subscribe`` / ``register`` / ``call``), ``request.match``
    (``exact`` / ``prefix`` / ``wildcard``) returns True (allow), False
    (deny) or None (no opinion), or a Deferred of one of those. The first rule
    with an opinion wins; otherwise the role's static permissions decide;
    ``realm.add_join_hook(hook)``: ``hook(session_info)`` runs after
    authentication and before WELCOME; it may change
    ``session_info.authextra``, return a Deferred, or raise
    ``ApplicationError`` to refuse the session (sent as ABORT).

``realm.broker``
    ``add_observer(fn)``: ``fn(publication)`` is called for every accepted
    publication (:class:`~wampchat.router.broker.Publication`: ``topic``,
    ``args``, ``kwargs``, ``publication_id``, ``publisher`` (SessionInfo or
    None), ``disclosed``, ``origin``, ``audience`` (an
    :class:`~wampchat.router.broker.Audience` when the publisher limited its
    receivers with exclude*/eligible*, as private-room events do; else None);
    ``inject(topic, args, kwargs, origin=..., publisher_authid=None,
    audience=None)`` delivers a publication that arrived from elsewhere to
    local subscribers (only to ``audience``, if given) and returns its
    publication id.

``realm.call_as(procedure, args, kwargs, authid, authrole)``
    -> Deferred firing with ``(args, kwargs)`` or failing with
    ``ApplicationError``; the call is authorized as that role.
"""
import txaio

# The router runs on Twisted. Autobahn modules bind txaio's functions when they are imported, so the
# framework is chosen here, before any of them (the serializers, imported by the meta API, among them).
txaio.use_twisted()


from wampchat.router.router import Router
from wampchat.router.realm import Realm
from wampchat.router.session_info import SessionInfo
from wampchat.router.credentials import Credentials

__all__ = ["Router", "Realm", "SessionInfo", "Credentials"]
