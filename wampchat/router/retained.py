"""
Retained events: a PUBLISH with ``retain=true`` keeps the topic's last event, and a SUBSCRIBE with
``get_retained=true`` receives it at once (as in Crossbar.io; the EVENT carries ``retained: true``).

Only publications to everyone are kept (one with exclude/eligible lists is
meant for some, so it is not handed to later subscribers), and only exact
subscriptions get them. A node keeps at most :data:`MAX_TOPICS` topics, the
least recently published going first. In a cluster a ``store`` (see
:mod:`wampchat.cluster.retained`) keeps them in the shared database, so a
subscriber on any node gets what was published on any other.
"""
from collections import OrderedDict

MAX_TOPICS = 10000


class RetainedEvents:
    """The last retained event of each topic: ``(args, kwargs, publisher authid)``."""

    def __init__(self, limit: int = MAX_TOPICS) -> None:
        self._events: OrderedDict = OrderedDict()
        self._limit = limit
        self.store = None   # a cluster's: keep(topic, args, kwargs, publisher) and get(topic) -> Deferred

    def keep(self, topic: str, args, kwargs, publisher) -> None:
        self._events[topic] = (args, kwargs, publisher)
        self._events.move_to_end(topic)
        if len(self._events) > self._limit:
            self._events.popitem(last=False)
        if self.store is not None:
            self.store.keep(topic, args, kwargs, publisher)

    def get(self, topic: str):
        """The topic's retained event, or None; a Deferred of it when the cluster's store is asked."""
        if self.store is not None:
            return self.store.get(topic)
        return self._events.get(topic)
