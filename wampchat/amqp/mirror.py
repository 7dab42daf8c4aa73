"""
The mirror: the realm's publications, out to the broker.

It observes the router's broker (not a WAMP subscription, so it sees every
accepted publication once, whoever may read it) and queues each one on the
link's outbox, never waiting. Left out: ``wamp.*``, and what the bridge
itself injected (it has an origin). A publication whose publisher limited
its audience (a private room's events) never goes on the shared topic
exchange, which any AMQP service allowed on it could read, and other nodes
do not know the room's members: it goes with its audience to the node-only
cluster exchange instead.
"""
from twisted.logger import Logger

from wampchat.amqp.bindings import MAX_KEY_BYTES
from wampchat.amqp.bodies import JSON_TYPE, encode_body
from wampchat.amqp.topology import NODE_HEADER


class Mirror:
    """``observe`` is the broker's observer: one call per accepted publication, one publish to the link."""

    log = Logger()

    def __init__(self, settings, publish, reactor, metrics):
        self.settings = settings
        self._publish = publish  # the link's publish (the outbox)
        self.reactor = reactor
        m = metrics
        self.m_mirrored = m.counter("wampchat_amqp_mirrored_total", "publications queued for the AMQP exchange")
        self.m_unmirrorable = m.counter("wampchat_amqp_unmirrorable_total",
                                        "publications that could not go to AMQP (topic too long, payload not JSON)")
        self.m_restricted = m.counter("wampchat_amqp_restricted_total",
                                      "publications with a limited audience (eligible/exclude), e.g. private "
                                      "rooms, kept off the exchange")
        self.m_cluster_out = m.counter("wampchat_cluster_sent_total",
                                       "restricted publications sent to the other nodes on the cluster exchange")

    def observe(self, pub):
        """Called by the broker for each accepted publication: queue it, never wait."""
        topic = pub.topic
        if pub.origin is not None or topic.startswith("wamp."):
            return
        s = self.settings
        body = {"args": list(pub.args or []), "kwargs": dict(pub.kwargs or {})}
        exchange, counter = s.exchange, self.m_mirrored
        if pub.audience is not None:  # a limited audience (a private room): never on the shared exchange
            self.m_restricted.inc()
            if pub.audience.local_only:
                return
            body["audience"] = pub.audience.portable()
            exchange, counter = s.cluster_exchange, self.m_cluster_out
        if len(topic.encode("utf-8")) > MAX_KEY_BYTES:
            self.m_unmirrorable.inc()
            self.log.warn("not mirrored to AMQP: topic longer than 255 bytes ({topic:.60}...)", topic=topic)
            return
        try:
            body = encode_body(body)
        except (TypeError, ValueError) as e:
            self.m_unmirrorable.inc()
            self.log.warn("not mirrored to AMQP: payload of {topic} is not JSON-able: {e}", topic=topic, e=e)
            return
        headers = {NODE_HEADER: s.node_id}
        if pub.disclosed and pub.publisher is not None:
            headers["wampchat-publisher"] = pub.publisher.authid
        self._publish(exchange, topic, body, {
            "content_type": JSON_TYPE,
            "delivery_mode": 2,
            "message_id": f"{s.node_id}:{pub.publication_id}",
            "timestamp": int(self.reactor.seconds()),
            "user_id": s.url.username,
            "app_id": "wampchat",
            "headers": headers,
        })
        counter.inc()
