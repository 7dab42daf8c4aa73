"""
The subscription meta API: ``wamp.subscription.list/lookup/match/get/list_subscribers/count_subscribers``
and the events ``wamp.subscription.on_create/on_subscribe/on_unsubscribe/on_delete`` (WAMP's Subscription
Meta API, as Crossbar.io answers it). Shared rules: :mod:`wampchat.router.registry_meta`.

Subscribers are this node's sessions: every node keeps its own subscriptions (its own ids) and routes
other nodes' events to them, so another node's subscribers are seen there, not here.
"""
from typing import List, Optional

from autobahn.wamp.exception import ApplicationError

from wampchat.router.registry_meta import (MetaEvents, announced, describe, id_arg, ids_by_match,
                                           match_option, uri_arg)

PREFIX = "wamp.subscription."


class SubscriptionMeta:
    """Answers the subscription meta procedures and publishes its events as the broker tells it."""

    def __init__(self, realm) -> None:
        self._broker = broker = realm.broker
        self._events = MetaEvents(realm, PREFIX)
        for name in ("list", "lookup", "match", "get", "list_subscribers", "count_subscribers"):
            realm.dealer.add_builtin(PREFIX + name, getattr(self, name))
        broker.add_listener(self)

    # -- procedures ---------------------------------------------------------------------------------
    def list(self, caller, args, kwargs) -> dict:
        return ids_by_match(self._broker.subscriptions())

    def lookup(self, caller, args, kwargs) -> Optional[int]:
        """The id of the subscription of exactly (topic, options.match), or None."""
        topic = uri_arg(args, kwargs, "topic")
        sub = self._broker.subscriptions().get(topic, match_option(args, kwargs))
        return sub.id if sub is not None else None

    def match(self, caller, args, kwargs) -> Optional[List]:
        """The ids of every subscription a publication to ``topic`` would reach, or None when none would."""
        found = self._broker.subscriptions().match_all(uri_arg(args, kwargs, "topic"))
        return [sub.id for sub in found] or None

    def get(self, caller, args, kwargs) -> dict:
        return describe(self._subscription(args, kwargs))

    def list_subscribers(self, caller, args, kwargs) -> List:
        return [session.info.id for session in self._subscription(args, kwargs).subscribers]

    def count_subscribers(self, caller, args, kwargs) -> int:
        return len(self._subscription(args, kwargs).subscribers)

    def _subscription(self, args, kwargs):
        subscription_id = id_arg(args, kwargs, "subscription_id")
        sub = self._broker.subscription(subscription_id)
        if sub is None:
            raise ApplicationError(ApplicationError.NO_SUCH_SUBSCRIPTION, f"no subscription {subscription_id}")
        return sub

    # -- events (the broker's listener) ---------------------------------------------------------------
    def subscription_created(self, sub, session) -> None:
        if announced(sub.uri):
            self._events.created(session, describe(sub))

    def subscriber_added(self, sub, session) -> None:
        if announced(sub.uri):
            self._events.joined(session, sub.id, "on_subscribe")

    def subscriber_removed(self, sub, session) -> None:
        if announced(sub.uri):
            self._events.left(session, sub.id, "on_unsubscribe")

    def subscription_deleted(self, sub, session) -> None:
        if announced(sub.uri):
            self._events.deleted(session, sub.id)
