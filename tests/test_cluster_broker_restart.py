"""RabbitMQ restarted under load, and a node's queue lost: no live event is lost, or the clients are told.

Three in-process nodes share the private PostgreSQL and RabbitMQ. Subscribers on every node follow the
lobby and a private room while senders on two nodes write steadily; the broker is stopped mid-traffic
and started again. Every message acknowledged to a sender must then arrive live at every subscriber
exactly once. Where the broker cannot keep events (a node's queue deleted or expired, a node's outbox
overflowing), the subscribers get ``chat.room.<id>.gap`` and the catch-up from history gives them every
message.
"""
import pytest
import pytest_twisted
from twisted.internet import defer, task, threads

from chatkit import payloads
from cluster import cluster  # noqa: F401 (fixture)
from helpers import poll_until
from rabbitmq import NODE_USER, PikaPeer, bridge_of, rabbitmq  # noqa: F401 (fixture)
from test_cluster import listen

pytestmark = [pytest.mark.rabbitmq]

NODES = ("na", "nb", "nc")
FAST = ("--send-rate", "100000", "--guest-send-rate", "100000")
PACE = 0.02        # seconds between two sends of one sender: steady traffic, not a flood
MAX_SENDS = 2000   # per sender and room: the traffic is bounded even if the broker never came back
SETTLE = 30        # seconds for events to arrive once the broker is back


class Sender:
    """One session sending to some rooms in turn until stopped; keeps what was acknowledged, per room."""

    def __init__(self, session, name, rooms):
        self.session = session
        self.name = name
        self.rooms = rooms
        self.acked = {room: [] for room in rooms}
        self.failed = []
        self.running = True

    async def run(self):
        from twisted.internet import reactor

        for i in range(MAX_SENDS):
            if not self.running:
                return
            for room in self.rooms:
                try:
                    msg = await self.session.call("chat.message.send", room, f"{self.name} {i}",
                                                  client_msg_id=f"{self.name}-{room}-{i}")
                except Exception as e:  # counted: the assertion below shows them
                    self.failed.append((room, i, repr(e)))
                    continue
                self.acked[room].append(msg["id"])
            await task.deferLater(reactor, PACE, lambda: None)  # pacing the traffic, not waiting on a state

    def sent(self):
        return sum(len(ids) for ids in self.acked.values())


class Watcher:
    """A member on one node following rooms' message and gap events."""

    def __init__(self, node, session):
        self.node = node
        self.session = session
        self.messages = {}
        self.gaps = {}

    async def follow(self, room):
        self.messages[room] = await listen(self.session, f"chat.room.{room}.message")
        self.gaps[room] = await listen(self.session, f"chat.room.{room}.gap")

    def live_ids(self, room):
        return [m["id"] for m in payloads(self.messages[room])]

    async def caught_up_ids(self, room, after):
        """What the page does on a gap: history after the last id it had."""
        ids = []
        while True:
            page = await self.session.call("chat.message.history", room, after=after, limit=200)
            ids += [m["id"] for m in page["messages"]]
            if not page["messages"]:
                return ids
            after = page["messages"][-1]["id"]


async def members(cluster, room_creator, private_room, names):
    """Registered users on the nodes in turn, all members of ``private_room``; returns their sessions."""
    sessions = []
    for k, name in enumerate(names):
        await cluster.register("na", name)
        await room_creator.call("chat.room.invite", private_room, name)
        session = await cluster.user(NODES[k % 3], name)
        await session.call("chat.room.join", private_room)
        await session.call("chat.room.join", "lobby")
        sessions.append(session)
    return sessions


def links_idle(cluster):
    return all(bridge_of(s).link.state == "connected" and len(bridge_of(s).link.outbox) == 0
               for s in cluster.nodes.values())


async def restart_broker(rabbitmq, while_down):
    """Stop the broker, run ``while_down()`` (waits for traffic), start the broker again."""
    await threads.deferToThread(rabbitmq.stop)
    try:
        await while_down()
    finally:
        await threads.deferToThread(rabbitmq.start)


def missing_and_repeated(live, acked):
    repeated = len(live) - len(set(live))
    return sorted(set(acked) - set(live)), repeated


@pytest_twisted.ensureDeferred
async def test_a_broker_restart_under_load_loses_no_live_event(cluster, rabbitmq):
    """Senders on A and B write to the lobby and a private room while RabbitMQ is stopped and started:
    each subscriber on A, B and C gets every acknowledged message live, once, with no gap signal; and
    a node whose outbox overflowed while the broker was away makes the others signal a gap in the room
    it wrote to, after which their catch-up from history has every message."""
    for node_id in NODES[:2]:
        await cluster.node(node_id, *FAST)
    await cluster.node("nc", *FAST, "--amqp-outbox", "5")  # its publications overflow during the outage
    await cluster.register("na", "owner")
    owner = await cluster.user("na", "owner")
    await owner.call("chat.room.create", "inner", private=True)
    await owner.call("chat.room.create", "spill")
    sessions = await members(cluster, owner, "inner", ["wa", "wb", "wc", "sa", "sb"])
    watchers = []
    for session, node in zip(sessions[:3], NODES):
        watcher = Watcher(node, session)
        for room in ("lobby", "inner", "spill"):
            await watcher.follow(room)
        watchers.append(watcher)
    senders = [Sender(sessions[3], "sa", ["lobby", "inner"]), Sender(sessions[4], "sb", ["lobby", "inner"])]
    spiller = Sender(await cluster.guest("nc", "Spiller"), "sc", ["spill"])
    running = [defer.ensureDeferred(s.run()) for s in senders]

    async def traffic_while_down():
        sent = sum(s.sent() for s in senders)
        await poll_until(lambda: all(bridge_of(n).link.state != "connected" for n in cluster.nodes.values()),
                         timeout=15)
        for i in range(20):  # more than nc's outbox holds
            spiller.acked["spill"].append((await spiller.session.call("chat.message.send", "spill", f"s {i}"))["id"])
        await poll_until(lambda: sum(s.sent() for s in senders) >= sent + 100, timeout=20)

    try:
        await poll_until(lambda: all(s.sent() >= 40 for s in senders), timeout=20)
        await restart_broker(rabbitmq, traffic_while_down)
        await poll_until(lambda: links_idle(cluster), timeout=SETTLE)
        sent_after = sum(s.sent() for s in senders)
        await poll_until(lambda: sum(s.sent() for s in senders) >= sent_after + 40, timeout=20)
    finally:
        for sender in senders:
            sender.running = False
        await defer.gatherResults(running)
    assert not any(s.failed for s in senders), [s.failed[:3] for s in senders]

    for room in ("lobby", "inner"):
        acked = [i for s in senders for i in s.acked[room]]

        def all_arrived():
            return all(set(acked) <= set(w.live_ids(room)) for w in watchers)
        try:
            await poll_until(all_arrived, timeout=SETTLE)
        except TimeoutError:
            pass  # the assertion says what is missing where
        report = {(w.node, room): (len(missing_and_repeated(w.live_ids(room), acked)[0]),
                                   missing_and_repeated(w.live_ids(room), acked)[1], len(payloads(w.gaps[room])))
                  for w in watchers}
        assert all(v == (0, 0, 0) for v in report.values()), f"(missing, repeated, gaps) of {len(acked)}: {report}"

    spilled = spiller.acked["spill"]
    assert bridge_of(cluster.nodes["nc"]).link.publisher.m_dropped.value > 0
    for watcher in watchers[:2]:  # the watchers on the other nodes are told, and catch up
        await poll_until(lambda: payloads(watcher.gaps["spill"]), timeout=SETTLE)
        live = watcher.live_ids("spill")
        assert len(live) == len(set(live))
        assert set(spilled) <= set(live) | set(await watcher.caught_up_ids("spill", "0" * 18))
    assert watchers[2].live_ids("spill") == spilled  # on its own node every event was delivered directly


@pytest_twisted.ensureDeferred
async def test_a_node_whose_queue_was_lost_tells_its_subscribers_to_catch_up(cluster, rabbitmq):
    """A node's queue deleted on the broker (as if it had expired while the node was away): events routed
    nowhere meanwhile are gone, so the node signals chat.room.<id>.gap to the rooms its sessions follow
    once its queue is back, and the catch-up from history gives every message."""
    await cluster.node("na", *FAST)
    await cluster.node("nb", *FAST)
    sender = await cluster.guest("na", "Sender")
    reader = await cluster.guest("nb", "Reader")
    messages = await listen(reader, "chat.room.lobby.message")
    gaps = await listen(reader, "chat.room.lobby.gap")
    first = await sender.call("chat.message.send", "lobby", "before")
    await messages.wait_for(1)
    peer = await PikaPeer.connect(rabbitmq, user=NODE_USER)
    try:
        await peer.channel.queue_delete(queue="wampchat.node.nb")  # its consumer is cancelled: nb sets up again
        sent = [(await sender.call("chat.message.send", "lobby", f"while gone {i}"))["id"] for i in range(30)]
    finally:
        peer.close()
    await gaps.wait_for(1, timeout=SETTLE)
    assert payloads(gaps)[0]["room"] == "lobby"
    after = await sender.call("chat.message.send", "lobby", "after")
    await poll_until(lambda: after["id"] in [m["id"] for m in payloads(messages)], timeout=SETTLE)
    page = await reader.call("chat.message.history", "lobby", after=first["id"], limit=200)
    assert set(sent) <= {m["id"] for m in page["messages"]} | {m["id"] for m in payloads(messages)}


@pytest_twisted.ensureDeferred
async def test_a_node_upgraded_from_non_durable_queues_starts_and_serves(cluster, rabbitmq):
    """Queues left non-durable by an older version (under the node's id, within their 10 min) are replaced
    by durable ones: the node connects at once instead of failing its set-up, and events cross."""
    peer = await PikaPeer.connect(rabbitmq, user=NODE_USER)
    try:
        for queue in ("wampchat.node.nu", "wampchat.cluster.node.nu"):
            await peer.channel.queue_declare(queue=queue, durable=False, arguments={"x-expires": 600000})
    finally:
        peer.close()
    await cluster.node("na", *FAST)
    await cluster.node("nu", *FAST)
    reader = await cluster.guest("nu", "Reader")
    messages = await listen(reader, "chat.room.lobby.message")
    sent = await (await cluster.guest("na", "Sender")).call("chat.message.send", "lobby", "to the upgraded node")
    await messages.wait_for(1)
    assert payloads(messages) == [sent]
    assert bridge_of(cluster.nodes["nu"]).link.m_failures.value == 0
