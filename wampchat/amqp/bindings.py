"""
The node queue's bindings follow the realm's subscriptions.

A node used to bind its queue to the topic exchange with ``#``: every
publication of every node and service came to every node, its own included,
only to be parsed and dropped when nobody there subscribed. Now each
(uri, match) subscription binds the key that covers it, so a node takes in
only topics its sessions listen to. WAMP's matching is wider than AMQP's in
one place (a prefix matches part of a component: ``app.ben`` matches
``app.bench``), so a prefix binds its parent's ``#``; a binding may cover
more than its subscription, never less, and the broker's own matching
picks the receivers.

A new subscription is routed once the broker confirms its binding
(``queue.bind-ok``); the router tells the subscriber SUBSCRIBED only then,
so anything another node publishes afterwards reaches it. If the broker
does not answer within ``BIND_WAIT`` seconds the subscriber is told anyway
(the link is reconnecting, and every binding is made again when it is up).
"""
from typing import Dict, Sequence, Set, Tuple

from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.matching import MATCH_PREFIX, MATCH_WILDCARD

MAX_KEY_BYTES = 255  # an AMQP routing key is a short string
BIND_WAIT = 5.0  # seconds a new subscription waits for its binding before it is confirmed anyway
LEGACY_KEY = "#"  # what a node's queue was bound with before bindings followed subscriptions


def binding_key(uri, match):
    """The AMQP binding key that covers a WAMP (uri, match) subscription, or None when AMQP cannot carry it."""
    if uri.startswith("wamp."):
        return None  # the router's own meta events never cross the broker
    if match == MATCH_PREFIX:
        head = uri.split(".")[:-1]  # the last component may be partial
        key = ".".join(head + ["#"]) if head else "#"
    elif match == MATCH_WILDCARD:
        key = ".".join(part or "*" for part in uri.split("."))
    else:
        key = uri
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        return None  # no routing key can be this long, so nothing could arrive for it
    return key


def room_of(topic_or_key: str):
    """The room id of ``chat.room.<id>.<...>`` (a topic or a binding key), or None (another topic, a pattern)."""
    parts = topic_or_key.split(".")
    if len(parts) >= 4 and parts[0] == "chat" and parts[1] == "room" and parts[2] not in ("", "*", "#"):
        return parts[2]
    return None


class TopicBindings:
    """Reference-counted binding keys of a queue on an exchange (and of ``more`` (queue, exchange) pairs, each
    bound the same keys), kept in step with the subscriptions."""

    log = Logger()

    def __init__(self, reactor, queue: str, exchange: str, more: Sequence[Tuple[str, str]] = ()):
        self.reactor = reactor
        self.targets = [(queue, exchange), *more]
        self._refs: Dict[str, int] = {}         # key -> how many subscriptions need it
        self._on_broker: Set[str] = set()  # keys this process bound on the queue (it may outlive a connection)
        self._channel = None
        self._pending: Dict[str, list] = {}      # key -> Deferreds of subscriptions waiting for its bind-ok

    def __len__(self):
        return len(self._refs)

    def keys(self):
        return set(self._refs)

    # -- the broker's watcher interface ------------------------------------------------
    def subscription_created(self, sub):
        key = binding_key(sub.uri, sub.match)
        if key is None:
            return None
        self._refs[key] = self._refs.get(key, 0) + 1
        if self._refs[key] == 1 and self._usable():
            self._bind(key)  # (again, if an unbind went out after the last bind: the broker keeps the order)
        if key in self._pending:
            return self._waiter(key)
        return None  # bound already; or the link is down, and setting it up again binds every key

    def subscription_deleted(self, sub):
        key = binding_key(sub.uri, sub.match)
        if key is None or key not in self._refs:
            return
        self._refs[key] -= 1
        if self._refs[key] == 0:
            del self._refs[key]
            if self._usable():
                self._unbind(key)

    # -- on every new connection -----------------------------------------------------------
    async def setup(self, channel, queue_is_new: bool = False) -> set:
        """Bind every key the subscriptions need, and unbind what an earlier connection left behind.

        Returns the keys that were not bound before (all of them when the queue
        is new): until now nothing published on them reached this node, so
        their subscribers may have missed events. A key that stayed bound on a
        durable queue missed nothing: the broker kept its messages.
        """
        self._channel = channel
        if queue_is_new:
            self._on_broker.clear()
        for key in (self._on_broker | {LEGACY_KEY}) - set(self._refs):
            for queue, exchange in self.targets:
                await channel.queue_unbind(queue=queue, exchange=exchange, routing_key=key)
            self._on_broker.discard(key)
        unbound = set(self._refs) - self._on_broker
        for key in list(self._refs):
            for queue, exchange in self.targets:
                await channel.queue_bind(queue=queue, exchange=exchange, routing_key=key)
            self._on_broker.add(key)
        return unbound

    # -- while connected -------------------------------------------------------------------
    def _usable(self):
        channel = self._channel
        return channel is not None and not channel.closed

    def _bind(self, key):
        waiting = self._pending[key] = []
        binds = []
        for queue, exchange in self.targets:
            d = self._channel.queue_bind(queue=queue, exchange=exchange, routing_key=key)
            binds.append(d.addErrback(self._failed, "bind", key, queue))
        self._on_broker.add(key)
        defer.gatherResults(binds).addBoth(self._bound, key, waiting)

    def _unbind(self, key):
        unbinds = [self._channel.queue_unbind(queue=queue, exchange=exchange, routing_key=key)
                   for queue, exchange in self.targets]
        d = defer.gatherResults(unbinds, consumeErrors=True)
        d.addCallback(lambda _: self._on_broker.discard(key) if key not in self._refs else None)
        queues = ", ".join(queue for queue, _ in self.targets)
        d.addErrback(lambda failure: self._failed(failure.value.subFailure, "unbind", key, queues))

    def _failed(self, failure, what, key, queue):
        # The channel is gone (the link reconnects and binds every key again) or the broker refused.
        self.log.warn("AMQP queue.{what} {key} on {queue} failed: {why}", what=what, key=key, queue=queue,
                      why=failure.getErrorMessage())

    def _bound(self, _, key, waiting):
        if self._pending.get(key) is waiting:
            del self._pending[key]
        for d in waiting:
            if not d.called:
                d.callback(key)

    def _waiter(self, key):
        d = defer.Deferred()
        self._pending[key].append(d)
        timer = self.reactor.callLater(BIND_WAIT, self._gave_up, d, key)

        def stop_timer(result):
            if timer.active():
                timer.cancel()
            return result

        return d.addBoth(stop_timer)

    def _gave_up(self, d, key):
        if not d.called:
            self.log.warn("no queue.bind-ok for {key} within {t} s; confirming the subscription anyway",
                          key=key, t=BIND_WAIT)
            d.callback(key)
