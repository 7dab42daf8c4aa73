"""
Event history (as in Crossbar.io): topics matched by ``--event-history URI:N`` keep their last N events,
and ``wamp.subscription.get_events(subscription_id, limit)`` returns them, newest first, to a subscriber of
that subscription. A client that reconnects reads what it missed of an application topic this way.

A rule's URI ending with ``.`` matches by prefix (``app.feed.:50``), any other exactly. The events are
kept by a ``store`` (the node's database, so every node of a cluster answers for every node's events; see
:mod:`wampchat.storage.cluster_events`); without one, in memory. Only publications made on this node by
its sessions are recorded (one made on another node was recorded there), and only those for everyone
(no exclude/eligible lists). Checking whether a topic keeps history costs nothing when no rule is set.
"""
from collections import deque

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from wampchat.router.incoming_values import as_id
from wampchat.router.matching import MATCH_EXACT, MATCH_PREFIX

GET_EVENTS_MAX = 1000


def parse_rule(text: str) -> tuple:
    """``URI:N`` as (uri, n); ValueError when it is not one."""
    uri, sep, count = text.rpartition(":")
    if not sep or not uri or not count.isdigit() or not 1 <= int(count) <= 100000 or " " in uri:
        raise ValueError(f"{text!r}: an event history rule is URI:N (N from 1 to 100000), e.g. app.news:100")
    return uri, int(count)


class MemoryHistory:
    """Events kept in this process (a node without a database store)."""

    def __init__(self) -> None:
        self._events: dict = {}

    def record(self, topic, keep, event) -> None:
        self._events.setdefault(topic, deque(maxlen=keep)).append(event)

    def events(self, uri, match, limit):
        if match == MATCH_EXACT:
            found = list(self._events.get(uri, ()))
        else:
            found = sorted((e for topic, kept in self._events.items() if topic.startswith(uri) for e in kept),
                           key=lambda e: e["timestamp"])
        return list(reversed(found))[:limit]


class EventHistory:
    """The realm's event history: which topics keep it, recording, and ``wamp.subscription.get_events``."""

    def __init__(self, realm, rules=()) -> None:
        self._realm = realm
        self._exact: dict = {}
        self._prefixes: list = []
        for uri, keep in rules:
            if uri.endswith("."):
                self._prefixes.append((uri, keep))
            else:
                self._exact[uri] = keep
        self.active = bool(rules)
        self.store = MemoryHistory()
        realm.dealer.add_builtin("wamp.subscription.get_events", self.get_events)

    def keeps(self, topic: str):
        """How many events of ``topic`` are kept (None: no history)."""
        keep = self._exact.get(topic)
        if keep is None:
            for prefix, count in self._prefixes:
                if topic.startswith(prefix):
                    return count
        return keep

    def record(self, topic, args, kwargs, publisher, pub_id) -> None:
        keep = self.keeps(topic)
        if keep is not None:
            self.store.record(topic, keep, {"timestamp": self._realm.clock.seconds(), "publication": pub_id,
                                            "topic": topic, "args": args or [], "kwargs": kwargs or {},
                                            "publisher_authid": publisher})

    def get_events(self, caller, args, kwargs):
        kwargs = kwargs or {}
        sub_id = as_id(args[0] if args else kwargs.get("subscription_id"))
        limit = args[1] if len(args) > 1 else kwargs.get("limit", 100)
        if not isinstance(sub_id, int) or isinstance(sub_id, bool):
            raise ApplicationError(ApplicationError.INVALID_ARGUMENT, "subscription_id must be an integer")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= GET_EVENTS_MAX:
            raise ApplicationError(ApplicationError.INVALID_ARGUMENT, f"limit must be 1..{GET_EVENTS_MAX}")
        session = self._realm.session(caller.id)
        sub = session.subscriptions.get(sub_id) if session is not None else None
        if sub is None:
            raise ApplicationError(ApplicationError.NO_SUCH_SUBSCRIPTION,
                                   f"no subscription {sub_id} of this session (subscribe first)")
        if sub.match not in (MATCH_EXACT, MATCH_PREFIX):
            return []
        return defer.maybeDeferred(self.store.events, sub.uri, sub.match, limit)
