"""
Consuming from the broker: each delivery to its consumer's handler, settled on its own channel.

A delivery can only be acked or rejected on the channel it came from, and
only while that channel lives; after a reconnect the broker delivers it
again. So :class:`Consumers` knows the current connection's channel and
handlers, and a :class:`Delivery` remembers where it came from.
"""
from typing import Callable, Dict

from twisted.logger import Logger

from wampchat.amqp.frames import basic_settle_frame

PREFETCH = 200             # unacked deliveries the broker may push to us


class Delivery:
    """A message the broker delivered to one of our consumers."""

    __slots__ = ("routing_key", "exchange", "redelivered", "properties", "body", "_consumers", "_channel", "_tag")

    def __init__(self, consumers, channel, msg):
        self._consumers = consumers
        self._channel = channel
        self._tag = msg.delivery_tag
        self.routing_key = msg.routing_key
        self.exchange = msg.exchange
        self.redelivered = msg.redelivered
        content = msg.content
        self.properties = content.properties if content is not None else {}  # by our names (content_header.py)
        body = content.body if content is not None else b""
        self.body = body.encode("utf-8") if isinstance(body, str) else body

    @property
    def headers(self):
        return self.properties.get("headers") or {}

    def ack(self):
        """Tell the broker we are done with it (a no-op if its channel is gone: it will come again)."""
        self._consumers.settle(self._channel, self._tag, reject=False)

    def reject(self):
        """Refuse it for good: the broker dead-letters it when the queue has a DLX, else drops it."""
        self._consumers.settle(self._channel, self._tag, reject=True)


class Consumers:
    """The handlers of the current connection's consumers, by consumer tag."""

    def __init__(self, log: Logger):
        self.log = log
        self._client = None
        self._channel = None
        self._handlers: Dict[str, Callable] = {}

    def attach(self, client, channel) -> None:
        """A new connection, before anything consumes on it: no handlers yet."""
        self._client, self._channel, self._handlers = client, channel, {}

    def detach(self) -> None:
        self._client = self._channel = None
        self._handlers = {}

    def consume(self, channel, queue, handler):
        """Start consuming ``queue`` on ``channel``; ``handler(delivery)`` gets each message."""
        d = channel.basic_consume(queue=queue, no_ack=False)

        def started(reply):
            self._handlers[reply.consumer_tag] = handler
            return reply.consumer_tag

        return d.addCallback(started)

    def delivered(self, client, channel, msg):
        """basic.deliver (read by :mod:`wampchat.amqp.receiving`): to its handler, or rejected."""
        handler = self._handlers.get(msg.consumer_tag)
        delivery = Delivery(self, channel, msg)
        if client is not self._client or handler is None:
            self.log.warn("delivery for unknown consumer {tag}; rejecting", tag=msg.consumer_tag)
            delivery.reject()
            return
        try:
            handler(delivery)
        except Exception:
            self.log.failure("AMQP consumer failed on a message from {key}; rejecting it", key=msg.routing_key)
            delivery.reject()

    def settle(self, channel, tag, reject):
        """basic.ack or basic.reject (not requeued), written directly: txamqp's method path costs more
        than the message it settles."""
        client = self._client
        if channel is None or channel is not self._channel or channel.closed or client.transport is None:
            return  # the broker redelivers it on the next connection
        client.transport.write(basic_settle_frame(channel.id, tag, reject=reject))
