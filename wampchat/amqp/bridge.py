"""
The AMQP bridge: RabbitMQ as a second door into the realm (API.md §6).

This module wires the bridge's parts to one :class:`~wampchat.amqp.link.AmqpLink`
and sets the broker up on every connection. The parts, each a module:
:mod:`~wampchat.amqp.mirror` (the realm's publications out to the topic
exchange, or to the node-only cluster exchange when the publisher limited
their audience), :mod:`~wampchat.amqp.inbound` (what other nodes and
services published, to this node's subscribers), :mod:`~wampchat.amqp.gaps`
(telling subscribers where live events may be missing),
:mod:`~wampchat.amqp.rpc` (services calling the realm's procedures) and
:mod:`~wampchat.amqp.bindings` (the node queue's bindings follow the
subscriptions). Message bodies are :mod:`~wampchat.amqp.bodies`, the names
on the broker :mod:`~wampchat.amqp.settings`.

Anything malformed is logged, counted, answered when there is a ``reply_to``,
and rejected; nothing a peer sends stops the bridge.
"""
from twisted.application import service
from twisted.logger import Logger

from wampchat.amqp.bindings import TopicBindings
from wampchat.amqp.calls import ClusterCalls
from wampchat.amqp.gaps import GAP_NOTICE, Gaps
from wampchat.amqp.inbound import Inbound
from wampchat.amqp.link import AmqpLink
from wampchat.amqp.mirror import Mirror
from wampchat.amqp.queues import QueueFound
from wampchat.amqp.rpc import AmqpRpc
from wampchat.amqp.settings import NODE_QUEUE_ARGS
from wampchat.amqp.topology import OWN_ANCHOR, NodeRoute, declare_route


class AmqpBridge(service.MultiService):
    """Mirrors a realm's publications to RabbitMQ and lets AMQP services publish and call into it."""

    name = "amqp"  # type: ignore[assignment]  # Twisted's Service says name = None
    log = Logger()

    def __init__(self, router, realm_name, settings, reactor):
        super().__init__()
        self.router = router
        self.realm = router.realm(realm_name)
        self.settings = settings
        self.reactor = reactor
        m = router.metrics
        self.routes = (NodeRoute(settings.exchange, settings.node_queue, OWN_ANCHOR),
                       NodeRoute(settings.cluster_exchange, settings.cluster_queue, GAP_NOTICE))
        node_route, cluster_route = self.routes
        self.bindings = TopicBindings(reactor, node_route.queue, node_route.topics,
                                      more=[(cluster_route.queue, cluster_route.topics)])
        self.gaps = Gaps(self.realm.broker, self.bindings, settings, reactor, m)
        self._first_setup = True
        self.link = AmqpLink(reactor, settings.url, self._setup, m, outbox_limit=settings.outbox,
                             retry_max=settings.retry_max, on_drop=self.gaps.outbox_dropped)
        self.link.setServiceParent(self)
        m.gauge("wampchat_amqp_bindings", "binding keys of this node's queue (one per distinct subscribed topic "
                "pattern)", lambda: len(self.bindings))
        self.mirror = Mirror(settings, self.link.publish, reactor, m)
        self.inbound = Inbound(self.realm.broker, settings, self.gaps, m)
        self.rpc = AmqpRpc(router, self.realm, settings, self.link.publish, reactor, m)
        self.calls = ClusterCalls(self.realm, settings, self.link.publish, reactor)
        self.link.on_lost.append(self.calls.link_lost)

    def health(self):
        """What /healthz shows under "amqp"."""
        return {"state": self.link.state, "outbox": len(self.link.outbox), "url": str(self.settings.url),
                "exchange": self.settings.exchange, "node": self.settings.node_id}

    def when_connected(self):
        """Deferred firing once the link is up and our queues consume (for tests and embedders)."""
        return self.link.when_connected()

    def startService(self):
        self.realm.broker.add_observer(self.mirror.observe)
        self.realm.broker.add_watcher(self.bindings)
        self.router.health["amqp"] = self.health
        super().startService()

    def stopService(self):
        self.realm.broker.remove_observer(self.mirror.observe)
        self.realm.broker.remove_watcher(self.bindings)
        return super().stopService()

    async def _setup(self, link, channel):
        """The broker's side, on every connection: exchanges, queues, bindings, consumers; then the gaps."""
        s = self.settings
        fallback = f"{s.rpc_exchange}.any"
        await channel.exchange_declare(exchange=s.exchange, type="topic", durable=True)
        await channel.exchange_declare(exchange=s.cluster_exchange, type="fanout", durable=True)
        await channel.exchange_declare(exchange=fallback, type="fanout", durable=True)
        await channel.exchange_declare(exchange=s.rpc_exchange, type="direct", durable=True,
                                       arguments={"alternate-exchange": fallback})
        fresh, self._first_setup = self._first_setup, False  # a new process starts with empty queues
        node_queue, cluster_queue = [await self._declare_route(link, channel, route, fresh) for route in self.routes]
        both_kept = node_queue.existed and cluster_queue.existed
        newly_bound = await self.bindings.setup(channel, queue_is_new=not both_kept)
        await channel.queue_declare(queue=s.rpc_exchange, durable=True)
        await channel.queue_bind(queue=s.rpc_exchange, exchange=fallback, routing_key="")
        await link.consume(channel, s.cluster_queue, self.inbound.on_cluster)
        await link.consume(channel, s.node_queue, self.inbound.on_event)
        await link.consume(channel, s.rpc_exchange, self.rpc.on_request)
        await self.calls.setup(link, channel)
        self.gaps.signal_missed(node_queue, cluster_queue, newly_bound)
        self.gaps.announce_dropped(link.publish)

    async def _declare_route(self, link: AmqpLink, channel, route: NodeRoute, fresh: bool) -> QueueFound:
        """The node's queue (first: deleting it takes its route's exchanges too) and its route to it."""
        found = await link.declare_queue(route.queue, dict(NODE_QUEUE_ARGS), fresh=fresh)
        await declare_route(channel, route, self.settings.node_id)
        return found
