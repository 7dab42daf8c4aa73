"""/healthz's node list is what the cluster believes now, not as of this node's last heartbeat."""
from twisted.internet.task import Clock

from wampchat.chat.cluster_presence import ClusterPresence


class _NoDatabase:
    """ClusterPresence asks its database only for a group commit when it is made."""

    def group_commit(self, fn, *args):
        return None


def test_a_node_silent_past_the_timeout_leaves_the_list_at_once():
    """A node read 10 s old at the last beat is gone 5.1 s later (15 s timeout), while this node and a fresh
    one stay, each with its age brought forward to now."""
    clock = Clock()
    presence = ClusterPresence(_NoDatabase(), "a", clock, on_change=lambda change: None, heartbeat=5.0,
                               timeout=15.0)
    clock.advance(100)
    presence.nodes, presence._nodes_read_at = [("a", 0), ("b", 10_000), ("c", 1_000)], clock.seconds()
    assert [(n["node"], n["heartbeat_age_ms"]) for n in presence.health()] == [("a", 0), ("b", 10_000), ("c", 1_000)]
    clock.advance(5.1)
    assert [(n["node"], n["heartbeat_age_ms"], n["self"]) for n in presence.health()] == \
        [("a", 5_100, True), ("c", 6_100, False)]
