"""Three wampchat nodes on one PostgreSQL and one RabbitMQ are one chat, whichever node each person uses."""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import SubscribeOptions

from chatkit import PASSWORD, error_of, payloads
from cluster import cluster  # noqa: F401 (fixture)
from helpers import Collector, poll_until
from rabbitmq import PikaPeer, access_refused, admin, get_json, rabbitmq  # noqa: F401 (fixture)
from wampchat.admin import main as admin_main

pytestmark = [pytest.mark.rabbitmq]
NOT_FOUND = "wampchat.error.not_found"


async def listen(session, topic, **options):
    collector = Collector()
    await session.subscribe(collector, topic, options=SubscribeOptions(**options) if options else None)
    return collector


def by_id(messages):
    return sorted(messages, key=lambda m: m["id"])


async def three(cluster, *extra):
    for node_id in ("na", "nb", "nc"):
        await cluster.node(node_id, *extra)


@pytest_twisted.ensureDeferred
async def test_an_account_made_on_one_node_logs_in_on_every_node(cluster):
    """Registered on A, the user logs in on B (ticket) and C (wampcra), and all show the same display name;
    a role changed with wampchat-admin applies at the next login on any node."""
    import io

    await three(cluster)
    await cluster.register("na", "ann", display_name="Ann A.")
    on_b = await cluster.user("nb", "ann")
    on_c = await cluster.user("nc", "ann", method="wampcra")
    assert await on_b.call("chat.user.me") == {"user": "ann", "nick": "Ann A.", "role": "user"}
    assert (await on_c.call("chat.user.me"))["nick"] == "Ann A."
    assert await error_of(on_b.call("chat.user.register", "ann", PASSWORD)) == "wampchat.error.conflict"
    assert admin_main(["--db", cluster.db, "setuser", "ann", "--role", "admin"], stdout=io.StringIO()) == 0
    again = await cluster.user("nc", "ann")
    assert (await again.call("chat.user.me"))["role"] == "admin"
    with pytest.raises(ApplicationError):
        await cluster.user("na", "ann", password="not the password")


@pytest_twisted.ensureDeferred
async def test_a_room_made_on_one_node_is_used_on_the_others_at_once(cluster):
    """Created on A, a room is listed, joined and written to on B and read on C with one history."""
    await three(cluster)
    await cluster.register("na", "ann")
    ann = await cluster.user("na", "ann")
    bob = await cluster.guest("nb", "Bob")
    cid = await cluster.guest("nc", "Cid")
    created = await listen(cid, "chat.rooms")
    await ann.call("chat.room.create", "plans", title="Plans")
    assert "plans" in [r["id"] for r in await bob.call("chat.room.list")]
    joined = await bob.call("chat.room.join", "plans")
    assert joined["room"]["title"] == "Plans" and [m["user"] for m in joined["members"]][0] == "ann"
    assert len(joined["members"]) == 2
    sent = await bob.call("chat.message.send", "plans", "hello from B")
    page = await cid.call("chat.message.history", "plans")
    assert page["messages"] == [sent]
    await created.wait_for(1)
    assert payloads(created)[0]["room"]["id"] == "plans"


@pytest_twisted.ensureDeferred
async def test_private_rooms_and_dms_work_across_nodes_and_never_reach_the_public_exchange(cluster, rabbitmq):
    """An invite on A reaches bob on B, whose room events reach members on other nodes once; carol on C is
    kept out; a DM between B and C works both ways; no private event appears on the public exchange."""
    await three(cluster)
    for name in ("ann", "bob", "carol"):
        await cluster.register("na", name)
    outsider = await PikaPeer.connect(rabbitmq)
    try:
        everything = await outsider.listen(binding="#")
        ann, bob, carol = (await cluster.user("na", "ann"), await cluster.user("nb", "bob"),
                           await cluster.user("nc", "carol"))
        notify = await listen(bob, "chat.user.bob.notify")
        await ann.call("chat.room.create", "secret", private=True)
        await ann.call("chat.room.invite", "secret", "bob")
        await notify.wait_for(1)
        assert payloads(notify)[0]["event"] == "invited"
        on_b = await listen(bob, "chat.room.secret.message")
        on_a = await listen(ann, "chat.room.secret.message")
        first = await ann.call("chat.message.send", "secret", "for members only")
        second = await bob.call("chat.message.send", "secret", "and back")
        await on_b.wait_for(2)
        await on_a.wait_for(2)
        # each once; live events from two nodes may cross on the way (clients order them by id)
        assert by_id(payloads(on_b)) == [first, second] == by_id(payloads(on_a))
        assert await error_of(carol.call("chat.message.history", "secret")) == NOT_FOUND
        with pytest.raises(ApplicationError, match="not_authorized"):
            await carol.subscribe(lambda *a: None, "chat.room.secret.message")

        dm = await carol.call("chat.dm.open", "bob")
        on_carol = await listen(carol, f"chat.room.{dm['id']}.message")
        on_bob = await listen(bob, f"chat.room.{dm['id']}.message")
        hi = await bob.call("chat.message.send", dm["id"], "hi carol")
        back = await carol.call("chat.message.send", dm["id"], "hi bob")
        await on_carol.wait_for(2)
        await on_bob.wait_for(2)
        assert by_id(payloads(on_carol)) == [hi, back] == by_id(payloads(on_bob))

        public = await ann.call("chat.message.send", "lobby", "a public marker")
        while True:  # everything up to the marker, in order: no private room event among it
            _, method, _, body = await everything.get(10)
            assert "secret" not in method.routing_key and "dm_" not in method.routing_key
            assert b"for members only" not in body and b"hi carol" not in body and b"chat.user." not in body
            if method.routing_key == "chat.room.lobby.message" and public["id"].encode() in body:
                break
    finally:
        outsider.close()


@pytest_twisted.ensureDeferred
async def test_leaving_on_one_node_ends_access_on_every_node_at_once(cluster):
    """bob leaves a private room through A: at once he can neither subscribe nor read it on B, and his
    old subscription on B gets no more of its events."""
    await cluster.node("na")
    await cluster.node("nb")
    for name in ("ann", "bob"):
        await cluster.register("na", name)
    ann, bob_a, bob_b = (await cluster.user("na", "ann"), await cluster.user("na", "bob"),
                         await cluster.user("nb", "bob"))
    await ann.call("chat.room.create", "team", private=True)
    await ann.call("chat.room.invite", "team", "bob")
    old = await listen(bob_b, "chat.room.team.message")
    await bob_a.call("chat.room.leave", "team")
    with pytest.raises(ApplicationError, match="not_authorized"):
        await bob_b.subscribe(lambda *a: None, "chat.room.team.message")
    assert await error_of(bob_b.call("chat.message.history", "team")) == NOT_FOUND
    watcher = await listen(ann, "chat.room.team.message")
    await ann.call("chat.message.send", "team", "after bob left")
    await watcher.wait_for(1)
    public = await listen(bob_b, "chat.room.lobby.message")
    await ann.call("chat.message.send", "lobby", "later, in public")
    await public.wait_for(1)
    assert old.events == []


@pytest_twisted.ensureDeferred
async def test_catch_up_on_any_node_misses_nothing_while_others_write(cluster):
    """Senders on A and B write into one room at once while a reader on C pages with after=: the reader
    gets every acknowledged message exactly once, in id order, and so does every node's history."""
    from twisted.internet import defer

    await three(cluster, "--send-rate", "10000")
    writers = [await cluster.guest(node, f"w{n}") for n, node in enumerate(["na", "na", "nb", "nb"])]
    reader = await cluster.guest("nc", "reader")
    sent = []

    async def write(session, n):
        for i in range(40):
            sent.append((await session.call("chat.message.send", "lobby", f"{n}:{i}"))["id"])

    start = await reader.call("chat.message.send", "lobby", "start")
    done = defer.gatherResults([defer.ensureDeferred(write(w, n)) for n, w in enumerate(writers)])
    seen, last = [], start["id"]
    while True:
        finished = done.called
        page = await reader.call("chat.message.history", "lobby", after=last, limit=200)
        ids = [m["id"] for m in page["messages"]]
        seen += ids
        last = ids[-1] if ids else last
        if finished and not ids:
            break
    await done
    assert sorted(sent) == seen and len(set(seen)) == len(seen) == 160
    for node in ("na", "nb"):
        probe = await cluster.guest(node, f"probe {node}")
        page = await probe.call("chat.message.history", "lobby", limit=200)
        assert [m["id"] for m in page["messages"]] == [start["id"]] + seen


@pytest_twisted.ensureDeferred
async def test_every_kind_of_room_event_reaches_every_node_once(cluster):
    """Messages, edits, deletes, typing and read markers, in a public and a private room, reach subscribers
    on every node exactly once."""
    await three(cluster)
    for name in ("ann", "bob", "cid"):
        await cluster.register("na", name)
    ann, bob, cid = (await cluster.user("na", "ann"), await cluster.user("nb", "bob"),
                     await cluster.user("nc", "cid"))
    await ann.call("chat.room.create", "inner", private=True)
    for name in ("bob", "cid"):
        await ann.call("chat.room.invite", "inner", name)
    for room in ("lobby", "inner"):
        for who in (bob, cid):
            await who.call("chat.room.join", room)
        watchers = [await listen(who, f"chat.room.{room}.", match="prefix") for who in (bob, cid)]
        msg = await ann.call("chat.message.send", room, "original")
        await ann.call("chat.message.edit", room, msg["id"], "edited")
        await ann.call("chat.typing", room, True)
        await ann.call("chat.read", room, msg["id"])
        await ann.call("chat.message.delete", room, msg["id"])
        marker = await ann.call("chat.message.send", room, "marker")
        for watcher in watchers:
            await poll_until(lambda w=watcher: any(e[0][0] == marker for e in w.events))
            events = payloads(watcher)
            assert events.count(msg) == 1 and events.count(marker) == 1
            assert sum(1 for e in events if e.get("text") == "edited") == 1
            assert sum(1 for e in events if e.get("typing") is True) == 1
            assert sum(1 for e in events if e.get("message_id") == msg["id"]) == 1
            assert sum(1 for e in events if e == {"id": msg["id"], "room": room}) == 1


@pytest_twisted.ensureDeferred
async def test_presence_is_one_for_the_cluster(cluster):
    """Online on A shows online on B; a user with sessions on two nodes goes offline once, when the last ends."""
    await three(cluster)
    for name in ("ann", "bob"):
        await cluster.register("na", name)
    bob = await cluster.user("nc", "bob")
    await bob.call("chat.room.join", "lobby")
    ann_a = await cluster.user("na", "ann")
    await ann_a.call("chat.room.join", "lobby")
    ann_b = await cluster.user("nb", "ann")
    await poll_until(lambda: _online(cluster, "ann", "nb"))  # B records its arrival a moment after the join
    presence = await listen(bob, "chat.room.lobby.presence")
    members = {m["user"]: m["online"] for m in await bob.call("chat.room.members", "lobby")}
    assert members["ann"] is True and members["bob"] is True
    ann_a.leave()
    await ann_a.closed
    members = {m["user"]: m["online"] for m in await bob.call("chat.room.members", "lobby")}
    assert members["ann"] is True
    ann_b.leave()
    await ann_b.closed
    await presence.wait_for(1)
    await poll_until(lambda: not _online(cluster, "ann"))
    marker = await bob.call("chat.message.send", "lobby", "marker")
    await bob.call("chat.message.history", "lobby", after=marker["id"])
    assert [p["event"] for p in payloads(presence)] == ["offline"]
    members = {m["user"]: m["online"] for m in await bob.call("chat.room.members", "lobby")}
    assert members["ann"] is False


def _online(cluster, user, node=None):
    """Does the database record ``user`` online (on ``node``, if given)?"""
    import psycopg

    sql, params = "SELECT 1 FROM online WHERE username = %s", [user]
    if node is not None:
        sql, params = sql + " AND node = %s", params + [node]
    with psycopg.connect(cluster.db) as conn:
        return conn.execute(sql, params).fetchone() is not None


@pytest_twisted.ensureDeferred
async def test_guest_nicks_are_unique_across_nodes_and_the_rate_limit_counts_every_node(cluster):
    """A guest nick shown on A is refused on B; a user's sends on A and B count against one limit."""
    await cluster.node("na", "--send-rate", "3")
    await cluster.node("nb", "--send-rate", "3")
    zed = await cluster.guest("na", "Zed")
    await poll_until(lambda: _online(cluster, zed.details.authid))  # A records its guests as they arrive
    with pytest.raises(ApplicationError, match="conflict"):
        await cluster.guest("nb", "zed")
    await cluster.register("na", "ann")
    ann_a, ann_b = await cluster.user("na", "ann"), await cluster.user("nb", "ann")
    await ann_a.call("chat.message.send", "lobby", "1")
    await ann_b.call("chat.message.send", "lobby", "2")
    await ann_a.call("chat.message.send", "lobby", "3")
    assert await error_of(ann_b.call("chat.message.send", "lobby", "4")) == "wampchat.error.rate_limited"


@pytest_twisted.ensureDeferred
async def test_healthz_shows_database_broker_and_the_nodes_it_sees(cluster):
    """/healthz on a node reports the database, the broker link and every live node."""
    await three(cluster, "--node-heartbeat", "0.2", "--node-timeout", "2")
    server = cluster.nodes["na"]
    await poll_until(lambda: len(server.service.getServiceNamed("chat").cluster.nodes) == 3)
    health = await get_json(server.http_url + "/healthz")
    assert health["database"]["engine"] == "postgresql" and health["database"]["state"] == "ok"
    assert health["amqp"]["state"] == "connected"
    assert sorted(n["node"] for n in health["nodes"]) == ["na", "nb", "nc"]
    assert [n["self"] for n in health["nodes"] if n["node"] == "na"] == [True]


# The permissions the README recommends: nodes may use wampchat.*; AMQP services their own queues (named
# <user>.*), the public exchange and RPC, nothing named wampchat.cluster* or wampchat.node*.
NODE_PERMISSIONS = (r"^(wampchat.*|amq\.gen-.*)$", r"^(wampchat.*|amq\.gen-.*|amq\.default)$",
                    r"^(wampchat.*|amq\.gen-.*)$")
SERVICE_PERMISSIONS = (r"^outsider\..*$", r"^(outsider\..*|wampchat|wampchat\.rpc)$", r"^(outsider\..*|wampchat)$")
DOCUMENTED_NODE = ("wcdoc", "wcdoc-secret")
OUTSIDER = ("outsider", "outsider-secret")


@pytest_twisted.ensureDeferred
async def test_an_amqp_service_with_the_documented_permissions_cannot_touch_the_cluster_channel(cluster, rabbitmq):
    """With the README's permissions, nodes work (one node runs as a user with exactly the node permissions),
    and a service reads and calls the public side but can neither read from nor publish to the node-only
    exchange and queues."""
    users = rabbitmq.ctl("list_users")
    for (name, password), permissions in ((OUTSIDER, SERVICE_PERMISSIONS), (DOCUMENTED_NODE, NODE_PERMISSIONS)):
        if name not in users:
            rabbitmq.ctl("add_user", name, password)
            rabbitmq.ctl("set_permissions", "-p", "/", name, *permissions)
    node_users = ("--amqp-node-users", f"wcnode,{DOCUMENTED_NODE[0]}")
    await admin(await cluster.node("na", *node_users), "adduser", OUTSIDER[0], "--role", "service")
    await cluster.node("nb", *node_users, user=DOCUMENTED_NODE)
    await cluster.register("na", "ann")
    await cluster.register("na", "bob")
    ann, bob = await cluster.user("na", "ann"), await cluster.user("nb", "bob")
    dm = await bob.call("chat.dm.open", "ann")
    on_ann = await listen(ann, f"chat.room.{dm['id']}.message")
    private = await bob.call("chat.message.send", dm["id"], "through the node-only exchange")
    await on_ann.wait_for(1)
    assert payloads(on_ann) == [private]
    peer = await PikaPeer.connect(rabbitmq, OUTSIDER)
    try:
        declared = await peer.channel.queue_declare(queue="outsider.lobby", exclusive=True)
        queue = declared.method.queue
        await peer.channel.queue_bind(queue=queue, exchange="wampchat", routing_key="chat.room.lobby.message")
        inbox = await peer.consume(queue)
        sent = await ann.call("chat.message.send", "lobby", "public")
        _, _, _, body = await inbox.get(10)
        assert sent["id"].encode() in body
        reply = await peer.call("chat.user.me", user=OUTSIDER[0])
        assert reply["result"]["user"] == OUTSIDER[0]
        for attempt in (
            lambda ch: ch.queue_bind(queue=queue, exchange="wampchat.cluster", routing_key=""),
            lambda ch: ch.basic_consume(queue="wampchat.cluster.node.na", auto_ack=True),
            lambda ch: ch.basic_consume(queue="wampchat.node.na", auto_ack=True),
            lambda ch: ch.exchange_declare(exchange="wampchat.cluster", exchange_type="fanout", durable=True),
        ):
            channel = await peer.connection.channel()
            assert await access_refused(lambda: attempt(channel))
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_mentions_reactions_search_and_changes_work_across_nodes(cluster, rabbitmq):
    """A mention written on A reaches its user on B once and never the public exchange; a reaction given on
    B reaches A; C searches what A wrote in a private room it belongs to, finds none of another's, and
    catches up on B's change with the cursor from its own join."""
    await three(cluster)
    for name in ("ann", "bob", "cid", "eve"):
        await cluster.register("na", name)
    outsider = await PikaPeer.connect(rabbitmq)
    try:
        everything = await outsider.listen(binding="#")
        ann, bob, cid, eve = (await cluster.user("na", "ann"), await cluster.user("nb", "bob"),
                              await cluster.user("nc", "cid"), await cluster.user("nc", "eve"))
        await ann.call("chat.room.create", "inner", private=True)
        for name in ("bob", "cid"):
            await ann.call("chat.room.invite", "inner", name)
        joined = await cid.call("chat.room.join", "inner")
        notes = await listen(bob, "chat.user.bob.notify")
        reactions = await listen(ann, "chat.room.inner.reaction")
        sent = await ann.call("chat.message.send", "inner", "@bob the quokka plan")
        assert sent["mentions"] == ["bob"]
        await poll_until(lambda: any(p.get("event") == "mention" for p in payloads(notes)))
        await bob.call("chat.message.react", "inner", sent["id"], "🦘")
        await reactions.wait_for(1)
        assert payloads(reactions) == [{"id": sent["id"], "room": "inner", "emoji": "🦘", "user": "bob", "on": True}]
        assert [m["id"] for m in (await cid.call("chat.message.search", "quokka"))["messages"]] == [sent["id"]]
        assert (await eve.call("chat.message.search", "quokka"))["messages"] == []
        changed = await cid.call("chat.message.history", "inner", changed_after=joined["changes"])
        assert [m["reactions"] for m in changed["messages"]] == [{"🦘": ["bob"]}]

        public = await ann.call("chat.message.send", "lobby", "a public marker")
        while True:  # everything up to the marker: no mention notice or private reaction among it
            _, method, _, body = await everything.get(10)
            assert "inner" not in method.routing_key and "chat.user." not in method.routing_key
            assert b"quokka" not in body
            if method.routing_key == "chat.room.lobby.message" and public["id"].encode() in body:
                break
        assert [p["event"] for p in payloads(notes)].count("mention") == 1
    finally:
        outsider.close()


@pytest_twisted.ensureDeferred
async def test_a_node_that_stops_cleanly_takes_its_users_offline_once(cluster):
    """Stopping a node announces its users offline to the other nodes, once, before its sessions end."""
    await cluster.node("na")
    await cluster.node("nb")
    await cluster.register("na", "ann")
    watcher = await cluster.guest("na", "Watcher")
    await watcher.call("chat.room.join", "lobby")
    ann = await cluster.user("nb", "ann")
    await ann.call("chat.room.join", "lobby")
    await poll_until(lambda: _online(cluster, "ann", "nb"))
    presence = await listen(watcher, "chat.room.lobby.presence")
    await cluster.nodes.pop("nb").stop()
    await presence.wait_for(1)
    marker = await watcher.call("chat.message.send", "lobby", "after the stop")
    await watcher.call("chat.message.history", "lobby", after=marker["id"])
    assert [(p["user"], p["event"]) for p in payloads(presence)] == [("ann", "offline")]
    assert not _online(cluster, "ann")
