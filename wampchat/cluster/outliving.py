"""
What must outlive a node, kept in the shared database: testaments and retained events (one router across
nodes, API §10).

- :class:`ClusterTestaments` is the realm's testament ``store``: a session's
  testaments are written when added and removed when flushed or when the
  session ends on its node; when a node dies, the first surviving node to
  claim its rows publishes them (:meth:`ClusterTestaments.node_gone`).
- :class:`ClusterRetained` is the broker's retained-event ``store``: kept
  when published on any node, read when a subscriber anywhere asks.

Writes never delay the WAMP answer; one that fails is logged (the
testament then lives only in its node's memory).
"""
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.session_info import SessionInfo
from wampchat.storage import cluster_events as rows

log = Logger()


def _logged(d, what):
    return d.addErrback(lambda f: log.warn("{what} not written to the shared database: {e}", what=what, e=f.value))


class ClusterTestaments:
    """Testaments kept in the database, published by a survivor when their node dies."""

    def __init__(self, realm, database, node: str) -> None:
        self._realm = realm
        self._db = database
        self._node = node

    def added(self, info, testament: dict) -> None:
        payload = {"args": testament["args"], "kwargs": testament["kwargs"], "retain": testament["retain"]}
        _logged(self._db.run(rows.add_testament, self._node, info.id, info.authid, info.authrole,
                             testament["topic"], payload), "a testament")

    def flushed(self, session_id: int) -> None:
        _logged(self._db.run(rows.drop_testaments, self._node, session_id), "flushing testaments")

    ended = flushed   # published (or dropped after GOODBYE) by this node: no survivor publishes them again

    def stopping(self):
        """This node stops cleanly and publishes its sessions' testaments itself as they end."""
        return self._db.run(rows.drop_node_testaments, self._node)

    @defer.inlineCallbacks
    def node_gone(self, node: str):
        """``node`` left the cluster: publish the testaments its sessions left, if this node claims them first."""
        try:
            claimed = yield self._db.run(rows.claim_testaments, node)
        except Exception as e:
            log.warn("the testaments of node {node} were not read: {e}", node=node, e=e)
            return
        for session_id, authid, authrole, topic, payload in claimed:
            info = SessionInfo(session_id, self._realm.name, authid, authrole, "cluster")
            self._realm.testaments.publish({"topic": topic, "args": payload.get("args"),
                                            "kwargs": payload.get("kwargs"), "retain": payload.get("retain")}, info)


class ClusterRetained:
    """Retained events kept in the database for every node's subscribers."""

    def __init__(self, database, clock) -> None:
        self._db = database
        self._clock = clock

    def keep(self, topic: str, args, kwargs, publisher) -> None:
        payload = {"args": args, "kwargs": kwargs, "publisher": publisher}
        _logged(self._db.run(rows.keep_retained, topic, payload, int(self._clock.seconds() * 1000)),
                "a retained event")

    def get(self, topic: str):
        d = self._db.run(rows.retained, topic)
        d.addCallback(lambda p: None if p is None else (p.get("args"), p.get("kwargs"), p.get("publisher")))
        return d.addErrback(lambda f: log.warn("retained event of {topic} not read: {e}", topic=topic, e=f.value))


class DatabaseHistory:
    """Event history kept in the database (``--event-history``), so any node answers for every node's events."""

    def __init__(self, database) -> None:
        self._db = database
        self._writes = defer.DeferredLock()   # one write at a time: the ids keep the order of publication

    def record(self, topic: str, keep: int, event: dict) -> None:
        _logged(self._writes.run(self._db.run, rows.record_event, topic, keep, event),
                "an event for the event history")

    def events(self, uri: str, match: str, limit: int):
        return self._db.run(rows.history, uri, match == "prefix", limit)
