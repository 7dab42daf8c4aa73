"""
Publishing to the broker: the outbox written out in order, confirmed, and resent.

Every message goes through the ordered, bounded
:class:`~wampchat.amqp.outbox.Outbox`, so a publication survives a lost
connection: what the broker did not confirm is requeued and resent, in
order, on the next channel. Frames are packed directly and written up to
FLUSH_BATCH per reactor turn, so a long outbox does not stall the router.
"""
import struct
from typing import Optional

from twisted.logger import Logger

from wampchat.amqp.frames import basic_publish_frames
from wampchat.amqp.outbox import Outbox, OutgoingMessage

FLUSH_BATCH = 500          # messages written per reactor turn, so a big outbox does not stall the router
DROP_LOG_INTERVAL = 10.0   # seconds between log lines about a full outbox (every drop is counted)


class Publisher:
    """Writes the outbox to the channel it is attached to (only while the link is connected), counts the
    broker's confirms and nacks, and tells ``on_drop`` of what a full outbox dropped."""

    def __init__(self, reactor, log: Logger, metrics, outbox_limit: int, on_drop=None):
        self.reactor = reactor
        self.log = log
        self._on_drop = on_drop  # told of every message the full outbox dropped (after counting it)
        self.outbox = Outbox(outbox_limit, self._dropped)
        self._client = None
        self._channel = None  # set while connected: attach() / detach()
        self._next_tag = 1
        self._flush_call = None
        self._last_drop_log: Optional[float] = None
        self._drops_unlogged = 0
        m = metrics
        self.m_sent = m.counter("wampchat_amqp_published_total", "messages written to the broker (resends included)")
        self.m_confirmed = m.counter("wampchat_amqp_confirmed_total", "messages the broker confirmed")
        self.m_unsendable = m.counter("wampchat_amqp_unframeable_total",
                                      "messages dropped because they could not be framed (a field too long)")
        self.m_nacked = m.counter("wampchat_amqp_nacked_total", "messages the broker refused (sent again)")
        self.m_dropped = m.counter("wampchat_amqp_outbox_dropped_total",
                                   "messages dropped because the outbox was full (oldest first)")

    def attach(self, client, channel) -> None:
        """The link is connected on ``channel`` (in confirm mode): delivery tags start at 1, write what waits."""
        self._client, self._channel, self._next_tag = client, channel, 1
        self._flush()

    def detach(self) -> int:
        """The connection is gone: requeue what it did not confirm, ahead of the rest; how many."""
        self._client = self._channel = None
        return self.outbox.requeue_unconfirmed()

    def stop(self) -> None:
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()

    def publish(self, exchange, routing_key, body, properties):
        """Queue a message for the broker; it goes out in order, confirmed, across reconnects."""
        self.outbox.add(OutgoingMessage(exchange, routing_key, body, properties))
        if self._channel is not None and self._flush_call is None:
            self._flush()

    def _flush(self):
        """Write up to FLUSH_BATCH waiting messages in one write; the rest on the next reactor turn."""
        self._flush_call = None
        channel, client = self._channel, self._client
        if channel is None or channel.closed or client.transport is None:
            return  # the connection is going: what is unconfirmed is resent on the next one
        frames, sent = [], 0
        while self.outbox.pending and sent < FLUSH_BATCH:
            msg = self.outbox.take()
            try:
                frames.append(basic_publish_frames(channel.id, msg.exchange, msg.routing_key, msg.body,
                                                   msg.properties, client.MAX_LENGTH))
            except (ValueError, TypeError, struct.error) as e:  # a caller's bug; the bridge checks what it sends
                self.m_unsendable.inc()
                self.log.error("AMQP message to {exchange}/{key} cannot be framed, dropped: {e}",
                               exchange=msg.exchange, key=msg.routing_key, e=e)
                continue
            tag, self._next_tag = self._next_tag, self._next_tag + 1
            self.outbox.sent(tag, msg)
            sent += 1
        client.transport.write(b"".join(frames))
        client.reschedule_send_heartbeat()
        self.m_sent.inc(sent)
        if self.outbox.pending:
            self._flush_call = self.reactor.callLater(0, self._flush)

    def confirmed(self, client, tag, multiple):
        """basic.ack from the broker: those publications are safe."""
        if client is self._client:
            self.m_confirmed.inc(self.outbox.confirm(tag, multiple))

    def nacked(self, client, tag, multiple):
        """basic.nack from the broker: send those publications again."""
        if client is not self._client:
            return
        n = self.outbox.nack(tag, multiple)
        self.m_nacked.inc(n)
        self.log.warn("the broker nacked {n} publications (up to tag {tag}); sending them again", n=n, tag=tag)
        if self._flush_call is None:
            self._flush()

    def _dropped(self, messages):
        """Count every drop; log the first and then at most one summary per DROP_LOG_INTERVAL."""
        self.m_dropped.inc(len(messages))
        if self._on_drop is not None:
            self._on_drop(messages)
        self._drops_unlogged += len(messages)
        now = self.reactor.seconds()
        if self._last_drop_log is None or now - self._last_drop_log >= DROP_LOG_INTERVAL:
            self.log.error("AMQP outbox full ({limit}): dropped the {n} oldest publications waiting for the "
                           "broker (latest {last}); {total} dropped in all",
                           limit=self.outbox.limit, n=self._drops_unlogged, last=messages[-1],
                           total=self.m_dropped.value)
            self._last_drop_log, self._drops_unlogged = now, 0
