"""
Direct routes: an in-process service's procedures and events without WAMP messages in between.

A service joined with :func:`~wampchat.router.local.attach_local` could
register and publish with Autobahn's own API, but then every call costs an
INVOCATION, a YIELD and the Autobahn dispatch around them, and every event
a PUBLISH, all built and parsed inside one process. On the chat send path
that was about half the router's CPU. Here a call becomes a function call
(the dealer still tracks it, so timeouts, the caller leaving and metrics
work as for any callee) and an event goes straight to the broker (observers
such as the AMQP bridge still see it).

In-process procedures are never interrupted: a service's work (a commit,
then its event) runs to its end, and a CANCEL or timeout answers the caller
at once, as for a callee that did not announce ``call_canceling``.
"""
from autobahn.wamp.exception import ApplicationError, TransportLost
from autobahn.wamp.request import Registration as AutobahnRegistration
from autobahn.wamp.types import CallDetails, CallResult
from twisted.internet import defer

from wampchat.router.broker import Audience

RUNTIME_ERROR = "wamp.error.runtime_error"


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
