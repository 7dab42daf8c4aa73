"""
The broker: subscriptions and fan-out.

All subscribers of one (topic, match) share one Subscription and so one
subscription id; that makes the EVENT for a publication identical for all of
them, so it is built once and serialized once per serializer (Autobahn caches
the bytes on the message object).
"""
import time

from autobahn.wamp import message
from twisted.internet import defer

from wampchat.router.ids import global_id, publication_id
from wampchat.router.matching import MATCH_EXACT, PatternMap
from wampchat.router.retained import RetainedEvents


class Subscription:
    """One (uri, match) and the sessions subscribed to it."""

    __slots__ = ("id", "uri", "match", "subscribers", "pattern_parts", "routing", "created")

    def __init__(self, uri, match):
        self.id = global_id()
        self.uri = uri
        self.match = match
        self.subscribers = {}
        self.pattern_parts = None
        self.routing = None  # while events from outside (other nodes) are being routed here: who waits for it
        self.created = time.time()  # for the subscription meta API (wall clock, like its ISO 8601 answer)


class Audience:
    """Who may receive a publication: WAMP's exclude/eligible options (by session, authid, authrole).

    The authid and authrole parts mean the same on every node, so they can
    travel with a publication to other nodes; session ids are one node's own.
    """

    __slots__ = ("exclude", "exclude_authid", "exclude_authrole", "eligible", "eligible_authid", "eligible_authrole")
    PORTABLE = ("exclude_authid", "exclude_authrole", "eligible_authid", "eligible_authrole")

    def __init__(self, exclude=None, exclude_authid=None, exclude_authrole=None, eligible=None,
                 eligible_authid=None, eligible_authrole=None):
        self.exclude = exclude
        self.exclude_authid = exclude_authid
        self.exclude_authrole = exclude_authrole
        self.eligible = eligible
        self.eligible_authid = eligible_authid
        self.eligible_authrole = eligible_authrole

    @classmethod
    def of(cls, msg):
        """The audience a PUBLISH asked for, or None when it asked for everyone."""
        if not (msg.exclude or msg.exclude_authid or msg.exclude_authrole or msg.eligible is not None
                or msg.eligible_authid is not None or msg.eligible_authrole is not None):
            return None
        return cls(msg.exclude, msg.exclude_authid, msg.exclude_authrole, msg.eligible, msg.eligible_authid,
                   msg.eligible_authrole)

    @property
    def local_only(self):
        """Only sessions of this node were named as eligible: no other node has anyone to deliver to."""
        return self.eligible is not None

    def portable(self):
        """The parts that mean the same on other nodes, as a dict of lists."""
        return {name: list(getattr(self, name)) for name in self.PORTABLE if getattr(self, name) is not None}

    @classmethod
    def from_portable(cls, parts):
        """An Audience from :meth:`portable` output; ValueError unless every part is a list of strings."""
        if not isinstance(parts, dict) or set(parts) - set(cls.PORTABLE):
            raise ValueError(f"an audience has only {', '.join(cls.PORTABLE)}")
        for name, value in parts.items():
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"audience {name} must be a list of strings")
        return cls(**parts)


class Publication:
    """An accepted publication, as observers (the AMQP bridge) see it."""

    __slots__ = ("topic", "args", "kwargs", "publication_id", "publisher", "disclosed", "origin", "audience")

    def __init__(self, topic, args, kwargs, publication_id, publisher, disclosed, origin, audience=None):
        # audience: the publisher limited who gets it (exclude*/eligible*), e.g. a private room's
        # events; the AMQP bridge keeps those off the exchange anyone may bind to.
        self.audience = audience
        self.topic = topic
        self.args = args
        self.kwargs = kwargs
        self.publication_id = publication_id
        self.publisher = publisher
        self.disclosed = disclosed
        self.origin = origin

    @property
    def restricted(self):
        return self.audience is not None


class Broker:
    """Routes publications to subscribers of matching subscriptions."""

    def __init__(self, realm, metrics):
        self._realm = realm
        self._metrics = metrics
        self._map = PatternMap()
        self._by_id = {}
        self._observers = []
        self._watchers = []
        self.retained = RetainedEvents()
        self.history = None   # the realm's EventHistory
        self._listeners = []  # the subscription meta API (see add_listener)

    # -- subscriptions --------------------------------------------------
    def subscribe(self, session, uri, match):
        """Add ``session`` to the (uri, match) subscription; returns it.

        While the subscription is still being routed (:meth:`when_routed`),
        the session holds it but gets no events: it is told SUBSCRIBED only
        then, and an EVENT before SUBSCRIBED is a protocol violation to the
        client. :meth:`activate` adds it to the subscribers once routed."""
        sub = self._map.get(uri, match)
        if sub is None:
            sub = Subscription(uri, match)
            self._map.add(uri, match, sub)
            self._by_id[sub.id] = sub
            self._created(sub)
            self._tell("subscription_created", sub, session)
        if sub.routing is None:
            sub.subscribers[session] = None
        if session.subscriptions.get(sub.id) is not sub:
            session.subscriptions[sub.id] = sub
            self._tell("subscriber_added", sub, session)
        return sub

    def activate(self, session, sub):
        """``sub`` is routed and ``session`` is about to be told SUBSCRIBED: from now on it gets the events
        (unless it unsubscribed or left meanwhile)."""
        if session.subscriptions.get(sub.id) is sub:
            sub.subscribers[session] = None

    def when_routed(self, sub):
        """None when ``sub`` already gets events from outside the node; else a Deferred that fires once it does.

        A subscriber is told SUBSCRIBED only then, so what another node
        publishes after that reaches it.
        """
        if sub.routing is None:
            return None
        d = defer.Deferred()
        sub.routing.append(d)
        return d

    def is_subscribed(self, session, uri, match):
        """Does ``session`` already hold the (uri, match) subscription? (Subscribing again adds nothing.)"""
        sub = self._map.get(uri, match)
        return sub is not None and session.subscriptions.get(sub.id) is sub

    def unsubscribe(self, session, subscription_id):
        """Remove ``session`` from a subscription; False when it was not subscribed."""
        sub = session.subscriptions.pop(subscription_id, None)
        if sub is None:
            if subscription_id in session.revoked_subscriptions:
                session.revoked_subscriptions.discard(subscription_id)
                return True
            return False
        self._drop(sub, session)
        return True

    def revoke(self, session, topic_prefix: str) -> int:
        """Take away ``session``'s subscriptions whose URI starts with ``topic_prefix`` (a user removed from a
        private room: its topics must reach them no more); how many went.

        The client is not sent UNSUBSCRIBED (Autobahn|Python announces subscription revocation yet treats a
        router's UNSUBSCRIBED as a protocol violation); its later UNSUBSCRIBE of a revoked id is answered as
        a success, so no client sees an error for it."""
        revoked = [sub_id for sub_id, sub in session.subscriptions.items() if sub.uri.startswith(topic_prefix)]
        for sub_id in revoked:
            self._drop(session.subscriptions.pop(sub_id), session)
            session.revoked_subscriptions.add(sub_id)
        return len(revoked)

    def _drop(self, sub, session):
        sub.subscribers.pop(session, None)
        self._tell("subscriber_removed", sub, session)
        if not sub.subscribers:
            self._map.remove(sub.uri, sub.match)
            self._by_id.pop(sub.id, None)
            for watcher in self._watchers:
                watcher.subscription_deleted(sub)
            self._tell("subscription_deleted", sub, session)

    def detach(self, session):
        for sub in session.subscriptions.values():
            self._drop(sub, session)
        session.subscriptions.clear()

    def subscription_count(self):
        return len(self._by_id)

    # -- listeners: the subscription meta API ------------------------------------------------------------
    def add_listener(self, listener):
        """``listener.subscription_created(sub, session)``, ``subscriber_added``, ``subscriber_removed`` and
        ``subscription_deleted`` (same arguments) are called as subscriptions and their subscribers come and go."""
        self._listeners.append(listener)

    def _tell(self, event, sub, session):
        for listener in self._listeners:
            getattr(listener, event)(sub, session)

    def subscription(self, subscription_id):
        """The subscription with this id, or None."""
        return self._by_id.get(subscription_id)

    def subscriptions(self):
        """Every subscription, as a :class:`PatternMap` by (uri, match); read only."""
        return self._map

    # -- watchers: who routes outside events to the node's subscriptions (the AMQP bridge) --
    def add_watcher(self, watcher):
        """``watcher.subscription_created(sub)`` (may return a Deferred: the subscription is not routed yet)
        and ``watcher.subscription_deleted(sub)`` are called as (uri, match) subscriptions come and go."""
        self._watchers.append(watcher)
        for sub in self._map:
            self._created(sub)

    def remove_watcher(self, watcher):
        self._watchers.remove(watcher)

    def _created(self, sub):
        pending = [d for d in (w.subscription_created(sub) for w in self._watchers) if d is not None]
        if pending:
            sub.routing = []
            defer.DeferredList(pending, consumeErrors=True).addBoth(self._routed, sub)

    def _routed(self, _, sub):
        waiting, sub.routing = sub.routing, None
        for d in waiting or ():
            d.callback(sub)

    # -- observers (the AMQP bridge) -------------------------------------
    def add_observer(self, observer):
        """``observer(publication)`` is called for every accepted publication."""
        self._observers.append(observer)

    def remove_observer(self, observer):
        self._observers.remove(observer)

    # -- publishing -----------------------------------------------------
    def publish(self, session, msg, disclose):
        """Deliver an authorized PUBLISH from ``session``; returns the publication id."""
        skip = session if msg.exclude_me is not False else None
        return self.publish_from(session.info, msg.topic, msg.args, msg.kwargs, disclose, skip, Audience.of(msg),
                                 msg.retain)

    def publish_from(self, info, topic, args, kwargs, disclose, skip=None, audience=None, retain=False):
        """Deliver an authorized publication by the session ``info`` (not to ``skip``) to ``audience``;
        returns the publication id. In-process services publish here directly (:mod:`wampchat.router.inprocess`).
        With ``retain`` (and no audience) it is kept for later subscribers (:mod:`wampchat.router.retained`)."""
        if retain and audience is None:
            self.retained.keep(topic, args, kwargs, info.authid if disclose else None)
        pub_id = publication_id()
        self._deliver(topic, args, kwargs, pub_id, info if disclose else None, skip, audience)
        if self._observers:
            self._notify(Publication(topic, args, kwargs, pub_id, info, disclose, None, audience))
        if self.history.active and audience is None:
            self.history.record(topic, args, kwargs, info.authid if disclose else None, pub_id)
        return pub_id

    def inject(self, topic, args=None, kwargs=None, origin="amqp", publisher_authid=None, audience=None):
        """Deliver a publication that arrived from outside the realm (AMQP, another node), to ``audience``."""
        pub_id = publication_id()
        self._deliver(topic, args, kwargs, pub_id, None, None, audience, publisher_authid)
        if self._observers:
            self._notify(Publication(topic, args, kwargs, pub_id, None, False, origin))
        return pub_id

    def send_retained(self, session, sub, topic):
        """A new subscriber asked for ``topic``'s retained event (get_retained): send it, if there is one."""
        found = self.retained.get(topic)
        if isinstance(found, defer.Deferred):
            found.addCallback(self._retained_found, session, sub)
        else:
            self._retained_found(found, session, sub)

    def _retained_found(self, found, session, sub):
        if found is None or session.subscriptions.get(sub.id) is not sub:
            return
        args, kwargs, publisher = found
        session.send(message.Event(sub.id, publication_id(), args=args, kwargs=kwargs, publisher_authid=publisher,
                                   retained=True))

    def publish_internal(self, topic, args=None, kwargs=None, audience=None):
        """Router-originated events (session meta), optionally only to an :class:`Audience`;
        not shown to observers."""
        if self._map:
            self._deliver(topic, args, kwargs, publication_id(), None, None, audience)

    def _notify(self, publication):
        for observer in self._observers:
            try:
                observer(publication)
            except Exception:
                self._metrics.errors.inc()
                self._realm.log_failure("broker observer failed")

    def _deliver(self, topic, args, kwargs, pub_id, publisher, skip, filters, publisher_authid=None):
        """The hot path: one Event per matching subscription, sent to each receiver."""
        delivered = 0
        for sub in self._map.match_all(topic):
            receivers = sub.subscribers
            if filters is not None:
                receivers = [s for s in receivers if _eligible(s.info, filters)]
            event = message.Event(
                sub.id,
                pub_id,
                args=args,
                kwargs=kwargs,
                publisher=publisher.id if publisher is not None else None,
                publisher_authid=publisher.authid if publisher is not None else publisher_authid,
                publisher_authrole=publisher.authrole if publisher is not None else None,
                topic=topic if sub.match != MATCH_EXACT else None,
            )
            for receiver in receivers:
                if receiver is not skip:
                    try:
                        receiver.send_event(event)
                    except Exception as e:  # noqa: BLE001 - one subscriber's failure must not stop the fan-out
                        receiver.send_failed(event, e)
                    delivered += 1
        metrics = self._metrics
        metrics.events_out.value += delivered
        metrics.messages_out.value += delivered


def _eligible(info, msg):
    """The black/white-listing of PUBLISH options (exclude*/eligible*)."""
    if msg.exclude and info.id in msg.exclude:
        return False
    if msg.exclude_authid and info.authid in msg.exclude_authid:
        return False
    if msg.exclude_authrole and info.authrole in msg.exclude_authrole:
        return False
    if msg.eligible is not None and info.id not in msg.eligible:
        return False
    if msg.eligible_authid is not None and info.authid not in msg.eligible_authid:
        return False
    if msg.eligible_authrole is not None and info.authrole not in msg.eligible_authrole:
        return False
    return True
