"""
Each node's own route from a shared exchange to its queue: its own publications never come back.

RabbitMQ has no "no-local" for queues: a queue bound to the topic exchange
``wampchat`` gets what its own node published there too, which the node
then had to take in and drop (most of a node's AMQP work in a cluster). So
a node's queue is not bound to the shared exchange itself but reached
through three exchanges of its own (``<queue>.in``, ``.own``, ``.topics``)::

    wampchat ──#──▶ <queue>.in (headers) ── wampchat-node = <this node> ──▶ <queue>.own ──""──▶ queue
                        │ routes nothing else: its alternate exchange takes the rest
                        ▼
                    <queue>.topics (topic) ── one key per subscribed topic (bindings.py) ──▶ queue

Only a message whose ``wampchat-node`` header is this node's matches the
``.in`` binding; it goes to ``.own``, whose only binding (key ``""``, which no
WAMP topic is) routes nothing the node publishes. Every other message is
unroutable at ``.in``, so RabbitMQ hands it to the alternate exchange
``.topics``, where the node's subscription keys pick what reaches the queue.
Publishers still publish to ``wampchat`` itself (services bound there see
every publication, with the same exchange, key and properties).

The three exchanges are auto-delete and each keeps one anchor binding
(``.topics`` to the queue, ``.own`` to the queue, ``.in`` to ``.own``), so
when the node's queue expires (a node gone for good) or is deleted, they go
with it, and with ``.in`` the shared exchange's binding to it. The same route
carries the node-only cluster exchange (a fanout) to the cluster queue; there
``.topics`` is anchored with the gap-notice key, which every node must get.

A service that forges a node's ``wampchat-node`` header on its own message
only keeps that message from that node's subscribers; nodes trust the header
for nothing else (``user_id`` is what the broker vouches for).
"""
from typing import NamedTuple

NODE_HEADER = "wampchat-node"   # the header every node sets on what it publishes: its node id
OWN_ANCHOR = ""                 # the ``.own`` exchange's one binding key (no WAMP topic is empty)


class NodeRoute(NamedTuple):
    """The way from one shared exchange to one of a node's queues."""

    source: str   # the shared exchange: ``wampchat``, or the node-only ``wampchat.cluster``
    queue: str    # the node's durable queue
    anchor: str   # the key ``.topics`` always binds (keeps it alive; the cluster's gap notices)

    @property
    def entry(self) -> str:
        """The headers exchange bound from ``source``: sorts own publications from the rest."""
        return f"{self.queue}.in"

    @property
    def own(self) -> str:
        """Where this node's own publications end (routes none of them on)."""
        return f"{self.queue}.own"

    @property
    def topics(self) -> str:
        """The topic exchange the queue binds its subscription keys on (``entry``'s alternate exchange)."""
        return f"{self.queue}.topics"


async def declare_route(channel, route: NodeRoute, node_id: str) -> None:
    """Declare ``route``'s exchanges and anchor bindings (idempotent); the queue must exist already.

    The e2e binding from the shared exchange comes last, so nothing is routed
    to ``.in`` before own publications are sorted out there."""
    await channel.exchange_declare(exchange=route.topics, type="topic", durable=True, auto_delete=True)
    await channel.exchange_declare(exchange=route.own, type="topic", durable=True, auto_delete=True)
    await channel.exchange_declare(exchange=route.entry, type="headers", durable=True, auto_delete=True,
                                   arguments={"alternate-exchange": route.topics})
    await channel.queue_bind(queue=route.queue, exchange=route.topics, routing_key=route.anchor)
    await channel.queue_bind(queue=route.queue, exchange=route.own, routing_key=OWN_ANCHOR)
    await channel.exchange_bind(destination=route.own, source=route.entry, routing_key="",
                                arguments={"x-match": "all", NODE_HEADER: node_id})
    await channel.exchange_bind(destination=route.entry, source=route.source, routing_key="#")
