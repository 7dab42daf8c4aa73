"""
Testaments: ``wamp.session.add_testament`` and ``wamp.session.flush_testaments`` (as in Crossbar.io).

A session leaves events to be published when it ends without saying
GOODBYE itself (its connection dropped, it was killed, its node stopped).
Each is checked when it is added: the caller must be allowed to publish to
its topic. A session keeps at most :data:`MAX_TESTAMENTS`. In a cluster a
``store`` (see :mod:`wampchat.cluster.testaments`) keeps them in the shared
database too, so a surviving node publishes them when the session's node
dies.
"""
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from wampchat.router.matching import MATCH_EXACT

MAX_TESTAMENTS = 20
SCOPES = ("destroyed", "detached")   # no session resumption here: a detached session is destroyed too


def _invalid(text):
    return ApplicationError(ApplicationError.INVALID_ARGUMENT, text)


def testament_of(args, kwargs) -> dict:
    """The testament an add_testament call describes: ``{topic, args, kwargs, retain}``, checked."""
    kwargs = kwargs or {}
    topic = args[0] if args else kwargs.get("topic")
    payload = args[1] if len(args) > 1 else kwargs.get("args", [])
    named = args[2] if len(args) > 2 else kwargs.get("kwargs", {})
    options = kwargs.get("publish_options") or {}
    scope = kwargs.get("scope", "destroyed")
    if not isinstance(topic, str) or not topic or topic.startswith("wamp.") or " " in topic:
        raise _invalid("topic must be a URI outside wamp.")
    if not isinstance(payload, list) or not isinstance(named, dict) or not isinstance(options, dict):
        raise _invalid("args must be a list, kwargs and publish_options dicts")
    if scope not in SCOPES:
        raise _invalid(f"scope must be one of {', '.join(SCOPES)}")
    return {"topic": topic, "args": payload, "kwargs": named, "retain": bool(options.get("retain"))}


class Testaments:
    """The testament procedures of a realm, and publishing a session's testaments when it ends."""

    def __init__(self, realm) -> None:
        self._realm = realm
        self._by_session: dict = {}   # session id -> [testament]
        self.store = None             # a cluster's: added(info, testament), flushed(session id), ended(session id)
        realm.dealer.add_builtin("wamp.session.add_testament", self.add)
        realm.dealer.add_builtin("wamp.session.flush_testaments", self.flush)

    def add(self, caller, args, kwargs):
        testament = testament_of(args, kwargs)
        held = self._by_session.get(caller.id, [])
        if len(held) >= MAX_TESTAMENTS:
            raise ApplicationError("wampchat.error.limit_exceeded", f"at most {MAX_TESTAMENTS} testaments a session",
                                   limit="testaments", allowed=MAX_TESTAMENTS)
        allowed = self._realm.authorizer.authorize(caller, testament["topic"], "publish", MATCH_EXACT)
        if allowed is True:
            return self._keep(caller, testament)
        return defer.maybeDeferred(lambda: allowed).addCallback(self._decided, caller, testament)

    def _decided(self, allowed, caller, testament):
        if not allowed:
            raise ApplicationError(ApplicationError.NOT_AUTHORIZED,
                                   f"session is not authorized to publish {testament['topic']!r}")
        return self._keep(caller, testament)

    def _keep(self, caller, testament):
        if self._realm.session(caller.id) is None:
            return None   # it left meanwhile
        self._by_session.setdefault(caller.id, []).append(testament)
        if self.store is not None:
            self.store.added(caller, testament)
        return None

    def flush(self, caller, args, kwargs):
        """Drop the caller's testaments; how many there were."""
        scope = (kwargs or {}).get("scope", args[0] if args else "destroyed")
        if scope not in SCOPES:
            raise _invalid(f"scope must be one of {', '.join(SCOPES)}")
        held = self._by_session.pop(caller.id, [])
        if held and self.store is not None:
            self.store.flushed(caller.id)
        return len(held)

    # -- a session ending -----------------------------------------------------------------------------
    def ended(self, info, said_goodbye: bool) -> None:
        """``info``'s session is gone: publish its testaments unless it said GOODBYE itself."""
        held = self._by_session.pop(info.id, None)
        if held is None:
            return
        if self.store is not None:
            self.store.ended(info.id)
        if not said_goodbye:
            for testament in held:
                self.publish(testament, info)

    def publish(self, testament: dict, info) -> None:
        """Publish a testament as its session would have (other nodes' subscribers get it through the bridge)."""
        self._realm.broker.publish_from(info, testament["topic"], testament["args"] or None,
                                        testament["kwargs"] or None, False, retain=testament.get("retain", False))
