"""Nodes that die: SIGKILL of a twistd node process, with the default heartbeat settings, while others serve."""
import time

import pytest
import pytest_twisted
from twisted.internet import defer

from chatkit import payloads
from helpers import poll_until
from cluster import cluster  # noqa: F401 (fixture)
from processes import processes  # noqa: F401 (fixture)
from rabbitmq import rabbitmq  # noqa: F401 (fixture)
from test_cluster import listen
from wampchat.testing import connect

pytestmark = [pytest.mark.rabbitmq]


async def online_seen_by(watcher, room, key, name):
    """Wait until ``watcher``'s node shows ``name`` online in ``room``: the arrival of a session is written
    to the shared database a moment after its join (maybe on a database thread still connecting), and a
    node killed before that leaves nothing to clean up."""
    async def shown_online():
        return {m[key]: m["online"] for m in await watcher.call("chat.room.members", room)}.get(name) is True
    await poll_until(shown_online, timeout=10)


def start_process(cluster, processes, node_id, *extra):
    node = cluster.process(node_id, *extra)
    processes.append(node)
    return node.start()


@pytest_twisted.ensureDeferred
async def test_users_of_a_killed_node_go_offline_elsewhere_within_30_seconds(cluster, processes):
    """With default heartbeats, a node killed with SIGKILL has its users shown offline on the others in 30 s."""
    await cluster.node("na")
    doomed = start_process(cluster, processes, "nz")
    watcher = await cluster.guest("na", "Watcher")
    await watcher.call("chat.room.join", "lobby")
    victim = await connect(doomed.ws_url, authmethods=["anonymous"], authextra={"nick": "Victim"})
    await victim.call("chat.room.join", "lobby")
    presence = await listen(watcher, "chat.room.lobby.presence")
    await online_seen_by(watcher, "lobby", "nick", "Victim")
    killed_at = time.monotonic()
    doomed.kill()
    await poll_until(lambda: ("Victim", "offline") in [(p["nick"], p["event"]) for p in payloads(presence)],
                     timeout=30)  # (its "join" may reach this node after the subscription: it crossed RabbitMQ)
    took = time.monotonic() - killed_at
    assert took < 30
    members = {m["nick"]: m["online"] for m in await watcher.call("chat.room.members", "lobby")}
    assert "Victim" not in members or members["Victim"] is False


@pytest_twisted.ensureDeferred
async def test_a_node_that_restarts_leaves_no_ghosts(cluster, processes):
    """Killed and started again under its id, a node clears its old users at once, long before the timeout."""
    await cluster.node("na")
    await cluster.register("na", "ann")
    node = start_process(cluster, processes, "nr")
    watcher = await cluster.guest("na", "Watcher")
    await watcher.call("chat.room.join", "lobby")
    ann = await connect(node.ws_url, authmethods=["ticket"], authid="ann", secret="a long password")
    await ann.call("chat.room.join", "lobby")
    presence = await listen(watcher, "chat.room.lobby.presence")
    await online_seen_by(watcher, "lobby", "user", "ann")
    node.kill()
    restarted_at = time.monotonic()
    start_process(cluster, processes, "nr")
    await poll_until(lambda: ("ann", "offline") in [(p["user"], p["event"]) for p in payloads(presence)],
                     timeout=10)
    events = [(p["user"], p["event"]) for p in payloads(presence)]
    while events[0] in (("ann", "join"), ("ann", "online")):  # published before, crossed RabbitMQ after
        events.pop(0)
    assert events == [("ann", "offline")]
    assert time.monotonic() - restarted_at < 15  # the 15 s node timeout did not have to pass
    members = {m["user"]: m["online"] for m in await watcher.call("chat.room.members", "lobby")}
    assert members["ann"] is False


@pytest_twisted.ensureDeferred
async def test_killing_a_node_during_a_send_storm_loses_nothing_acknowledged(cluster, processes):
    """Senders on three nodes; one node is SIGKILLed mid-storm. Every send that returned is in history once,
    nothing is stored twice, and the survivors keep serving (their senders finish)."""
    await cluster.node("na", "--send-rate", "100000")
    await cluster.node("nb", "--send-rate", "100000")
    doomed = start_process(cluster, processes, "nk", "--send-rate", "100000")
    acknowledged, failed = [], []

    async def storm(url, name, count):
        session = await connect(url, authmethods=["anonymous"], authextra={"nick": name})
        for i in range(count):
            try:
                msg = await session.call("chat.message.send", "lobby", f"{name} {i}", client_msg_id=f"{name}-{i}")
            except Exception as e:  # the doomed node's senders lose their connection: counted, not fatal
                failed.append((name, i, type(e).__name__))
                return
            acknowledged.append(msg["id"])

    survivors = [defer.ensureDeferred(storm(cluster.nodes[n].ws_url, f"{n}{k}", 150))
                 for n in ("na", "nb") for k in range(2)]
    victims = [defer.ensureDeferred(storm(doomed.ws_url, f"nk{k}", 10_000)) for k in range(2)]
    await poll_until(lambda: len(acknowledged) > 200, timeout=60)
    doomed.kill()
    await defer.gatherResults(survivors + victims)
    assert {f[0] for f in failed} == {"nk0", "nk1"}  # only the killed node's senders were cut off
    reader = await cluster.guest("na", "Reader")
    stored, last = [], "0" * 18  # sorts before every id
    while True:
        page = await reader.call("chat.message.history", "lobby", after=last, limit=200)
        stored += page["messages"]
        if not page["messages"]:
            break
        last = page["messages"][-1]["id"]
    ids = [m["id"] for m in stored]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    assert set(acknowledged) <= set(ids)
    keys = [m["client_msg_id"] for m in stored]
    assert len(keys) == len(set(keys))  # no send stored twice
    after = await reader.call("chat.message.send", "lobby", "still serving")
    assert after["id"] > ids[-1]

