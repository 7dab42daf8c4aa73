"""
Inbound publications: from the broker to this node's subscribers.

Two queues feed it. The node queue (bound to the topics this node's sessions
subscribe to, see :mod:`wampchat.amqp.bindings`) brings what other nodes
and AMQP services published; ``chat.*`` is taken only from node users, so
a service cannot forge chat traffic. The cluster queue brings, from nodes
only, publications with a limited audience, delivered to that same audience,
and other nodes' gap notices. Neither brings our own publications (the
broker drops them on the node's route, :mod:`wampchat.amqp.topology`); should
one come back all the same it is counted and dropped, and repeats (per
sender and message id) are acked and dropped; anything malformed is
logged, counted and rejected, and nothing a peer sends stops the bridge.
"""
from collections import OrderedDict
from typing import Optional, Tuple

from wampchat.amqp.bodies import BadMessage, args_of, check_uri, decode_body, json_object, reject
from wampchat.amqp.gaps import GAP_NOTICE
from wampchat.amqp.topology import NODE_HEADER
from wampchat.router.broker import Audience

SEEN_IDS = 10000                                 # message ids remembered to drop resent duplicates


def dedup_key(delivery) -> Optional[Tuple[str, str]]:
    """What makes a delivery a repeat: its ``message_id`` in its broker-validated ``user_id``'s name space
    (a message without either is never taken for a repeat)."""
    user, message_id = delivery.properties.get("user_id"), delivery.properties.get("message_id")
    if not user or not message_id:
        return None
    return user, message_id


class Inbound:
    """The consumers of the node queue (``on_event``) and the cluster queue (``on_cluster``)."""

    def __init__(self, broker, settings, gaps, metrics):
        self.broker = broker
        self.settings = settings
        self.gaps = gaps
        self._seen = OrderedDict()
        m = metrics
        self.m_received = m.counter("wampchat_amqp_received_total", "AMQP messages delivered to WAMP subscribers")
        self.m_cluster_in = m.counter("wampchat_cluster_received_total",
                                      "restricted publications from other nodes delivered here")
        self.m_own = m.counter("wampchat_amqp_own_returned_total",
                               "this node's own publications the broker delivered back to it (dropped; 0 unless "
                               "its queue is bound outside its own route, see wampchat/amqp/topology.py)")
        self.m_duplicates = m.counter("wampchat_amqp_duplicates_total", "AMQP messages dropped as already seen")
        self.m_rejected = m.counter("wampchat_amqp_rejected_total",
                                    "AMQP messages rejected as malformed (body, content type, routing key)")
        self.m_refused = m.counter("wampchat_amqp_refused_total",
                                   "AMQP messages on chat.* from users that are not wampchat nodes")

    def _handled_already(self, delivery) -> bool:
        """Our own publication back from the exchange, or one its sender sent before: acked and True.

        Both tests trust only what the broker vouches for: "own" needs a node user's ``user_id``, and a
        repeat is the same ``message_id`` from the same broker-validated ``user_id``, so an AMQP service
        that guesses or copies another sender's message id suppresses nothing but its own messages."""
        from_node = delivery.properties.get("user_id") in self.settings.node_users
        if from_node and delivery.headers.get(NODE_HEADER) == self.settings.node_id:
            self.m_own.inc()
            delivery.ack()
            return True
        key = dedup_key(delivery)
        if key is not None and key in self._seen:
            self.m_duplicates.inc()
            delivery.ack()
            return True
        return False

    def _delivered(self, delivery, counter):
        counter.inc()
        self._remember(delivery)
        delivery.ack()

    def _remember(self, delivery) -> None:
        """Keep the delivery's (sender, message id) for :meth:`_handled_already` (the newest SEEN_IDS)."""
        key = dedup_key(delivery)
        if key is None:
            return
        self._seen[key] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)

    def on_event(self, delivery):
        """A message from the node queue: to this node's subscribers of its topic."""
        props = delivery.properties
        headers = delivery.headers
        if self._handled_already(delivery):
            return
        topic = delivery.routing_key
        user = props.get("user_id")
        try:
            check_uri(topic, "topic")
            args, kwargs = decode_body(delivery)
        except BadMessage as e:
            reject(delivery, self.m_rejected, str(e))
            return
        from_node = user in self.settings.node_users
        if topic.startswith("chat.") and not from_node:
            reject(delivery, self.m_refused, f"chat.* is only accepted from wampchat nodes, not {user!r}")
            return
        publisher = headers.get("wampchat-publisher") if from_node else user
        self.broker.inject(topic, args or None, kwargs or None, origin="amqp",
                           publisher_authid=publisher if isinstance(publisher, str) else None)
        self._delivered(delivery, self.m_received)

    def on_cluster(self, delivery):
        """A message from the cluster queue: a restricted publication (to its audience) or a gap notice."""
        user = delivery.properties.get("user_id")
        if self._handled_already(delivery):
            return
        if user not in self.settings.node_users:  # RabbitMQ permissions should make this impossible
            reject(delivery, self.m_refused, f"cluster messages come only from nodes, not {user!r}")
            return
        if delivery.routing_key == GAP_NOTICE:
            self.gaps.on_notice(delivery)
            self._delivered(delivery, self.m_cluster_in)
            return
        topic = delivery.routing_key
        try:
            check_uri(topic, "topic")
            data = json_object(delivery)
            args, kwargs = args_of(data)
            audience = Audience.from_portable(data.get("audience"))
        except (BadMessage, ValueError) as e:
            reject(delivery, self.m_rejected, str(e))
            return
        publisher = delivery.headers.get("wampchat-publisher")
        self.broker.inject(topic, args or None, kwargs or None, origin="cluster",
                           publisher_authid=publisher if isinstance(publisher, str) else None,
                           audience=audience)
        self._delivered(delivery, self.m_cluster_in)
