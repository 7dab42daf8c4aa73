"""
The outbox: messages on their way to the broker, in order, bounded.

A message is *pending* until it is written to a channel and *unconfirmed*
until the broker acks it (publisher confirms). When the connection drops,
unconfirmed messages go back to the front of the pending queue, so after
reconnecting they are sent again before anything newer: order is kept and
nothing the broker did not confirm is lost. The bound counts both kinds; past
it the oldest pending messages are dropped and reported to ``on_drop``, so a
long broker outage costs bounded memory and is never silent.
"""
from collections import OrderedDict, deque


class OutgoingMessage:
    """One basic.publish: where it goes, its body (bytes) and its properties."""

    __slots__ = ("exchange", "routing_key", "body", "properties")

    def __init__(self, exchange, routing_key, body, properties):
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.properties = properties

    def __repr__(self):
        return f"<OutgoingMessage {self.exchange}/{self.routing_key} {self.properties.get('message_id')}>"


class Outbox:
    """Pending then unconfirmed messages, at most ``limit`` of them together."""

    def __init__(self, limit, on_drop):
        if limit < 1:
            raise ValueError(f"the outbox must hold at least one message, not {limit}")
        self.limit = limit
        self._on_drop = on_drop
        self.pending = deque()
        self.unconfirmed = OrderedDict()

    def __len__(self):
        return len(self.pending) + len(self.unconfirmed)

    def add(self, msg):
        """Queue ``msg`` behind everything already waiting."""
        self.pending.append(msg)
        self._trim()

    def take(self):
        """The oldest pending message (the caller sends it, then calls ``sent``)."""
        return self.pending.popleft()

    def sent(self, tag, msg):
        """``msg`` was written to the channel as delivery tag ``tag``."""
        self.unconfirmed[tag] = msg

    def confirm(self, tag, multiple):
        """The broker acked ``tag`` (and every earlier tag when ``multiple``); returns how many."""
        return len(self._pop_confirmed(tag, multiple))

    def nack(self, tag, multiple):
        """The broker could not take ``tag`` (and earlier ones): send them again, first.

        Messages already sent after them are not recalled, so after a nack
        order is kept only among the messages sent again.
        """
        refused = self._pop_confirmed(tag, multiple)
        self.pending.extendleft(reversed(refused))
        self._trim()
        return len(refused)

    def requeue_unconfirmed(self):
        """The channel is gone: every unconfirmed message waits again, ahead of the pending ones."""
        count = len(self.unconfirmed)
        self.pending.extendleft(reversed(list(self.unconfirmed.values())))
        self.unconfirmed.clear()
        self._trim()
        return count

    def _pop_confirmed(self, tag, multiple):
        if not multiple:
            msg = self.unconfirmed.pop(tag, None)
            return [msg] if msg is not None else []
        done = []
        while self.unconfirmed:  # bounded by len(unconfirmed) <= limit
            first = next(iter(self.unconfirmed))
            if first > tag:
                break
            done.append(self.unconfirmed.pop(first))
        return done

    def _trim(self):
        dropped = []
        while len(self) > self.limit and self.pending:  # bounded: each pass removes one
            dropped.append(self.pending.popleft())
        if dropped:
            self._on_drop(dropped)
