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


def test_a_users_presence_work_runs_in_order_without_a_lock_per_user():
    """Work for one user waits for the work before it (failed or not); another user's starts at once, and a
    user with nothing under way keeps no entry (a reconnect storm is thousands of new users)."""
    from twisted.internet import defer

    from wampchat.chat.cluster_presence import KeyedSerializer

    serial, log = KeyedSerializer(), []
    gates = [defer.Deferred() for _ in range(3)]

    def work(i):
        log.append(("start", i))
        return gates[i]

    results = [serial.run("ann", work, i) for i in range(3)]
    assert serial.run("bob", lambda: "now").result == "now"
    assert log == [("start", 0)]
    gates[1].callback(1)
    assert log == [("start", 0)]
    gates[0].errback(ValueError("the first failed"))
    results[0].addErrback(lambda f: log.append(("failed", 0)))
    assert log == [("start", 0), ("start", 1), ("start", 2), ("failed", 0)]
    drained = serial.drain()
    assert not drained.called
    gates[2].callback(2)
    assert drained.called and [r.result for r in results[1:]] == [1, 2]
    assert serial._tails == {}
