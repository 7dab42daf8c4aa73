"""Moderation across the nodes of a cluster: the moderator on one node, the user acted on at another.

The node that makes a change applies it to its own sessions; the others read
the revocations feed every second and apply it to theirs (kicks and bans take
subscriptions away in the router, server bans and password changes end
sessions within 5 s)."""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import reactor

from chatkit import PASSWORD, error_of
from cluster import cluster  # noqa: F401 (fixture)
from helpers import Collector, poll_until
from rabbitmq import admin, rabbitmq  # noqa: F401 (fixture)

pytestmark = [pytest.mark.rabbitmq]
FORBIDDEN = "wampchat.error.forbidden"
BANNED = "wampchat.error.banned"
NEW_PASSWORD = "a new password 2"


async def listen(session, topic):
    collector = Collector()
    await session.subscribe(collector, topic)
    return collector


def room_subscriptions(server, user, room):
    """The URIs of ``user``'s subscriptions to ``room``'s topics on one node, as its router holds them."""
    realm = server.router.realm("wampchat")
    return [sub.uri for info in realm.sessions() if info.authid == user
            for sub in realm.session(info.id).subscriptions.values() if sub.uri.startswith(f"chat.room.{room}.")]


async def two_nodes(cluster, *names):
    await cluster.node("na")
    await cluster.node("nb")
    for name in names:
        await cluster.register("na", name)


async def ended_within(session, seconds):
    """The CloseDetails of ``session``'s end, which must come within ``seconds``."""
    started = reactor.seconds()
    await poll_until(lambda: session.left.called, timeout=seconds)
    details = await session.left
    assert reactor.seconds() - started <= seconds
    return details


async def refusal(cluster, node, username, password=PASSWORD):
    try:
        await cluster.user(node, username, password=password)
    except ApplicationError as e:
        return e
    raise AssertionError(f"{username} logged in")


@pytest_twisted.ensureDeferred
async def test_a_kick_on_one_node_takes_the_subscriptions_away_on_the_other(cluster):
    """ann (owner, node A) kicks bob (node B) from a private room: bob's subscriptions to it are removed from
    B's router, he gets nothing more, is told why, and can no longer read it."""
    await two_nodes(cluster, "ann", "bob")
    ann, bob = await cluster.user("na", "ann"), await cluster.user("nb", "bob")
    await ann.call("chat.room.create", "team", private=True)
    await ann.call("chat.room.invite", "team", "bob")
    old = await listen(bob, "chat.room.team.message")
    notices = await listen(bob, "chat.user.bob.notify")
    assert room_subscriptions(cluster.nodes["nb"], "bob", "team") == ["chat.room.team.message"]
    await ann.call("chat.room.kick", "team", "bob", reason="off topic")
    await poll_until(lambda: not room_subscriptions(cluster.nodes["nb"], "bob", "team"), timeout=5)
    await notices.wait_for(1)
    assert notices.events[0][0][0] == {"event": "kicked", "room": "team", "by": "ann", "reason": "off topic"}
    watcher = await listen(ann, "chat.room.team.message")
    await ann.call("chat.message.send", "team", "after the kick")
    await watcher.wait_for(1)
    assert old.events == []
    assert await error_of(bob.call("chat.message.history", "team")) == "wampchat.error.not_found"


@pytest_twisted.ensureDeferred
async def test_a_ban_and_a_mute_on_one_node_hold_on_the_other(cluster):
    """A moderator on A bans cid and mutes bob, both on B: cid cannot join there, bob reads but cannot send."""
    await two_nodes(cluster, "ann", "mod", "bob", "cid")
    ann = await cluster.user("na", "ann")
    await ann.call("chat.room.create", "hall")
    mod, bob, cid = await cluster.user("na", "mod"), await cluster.user("nb", "bob"), await cluster.user("nb", "cid")
    for session in (mod, bob, cid):
        await session.call("chat.room.join", "hall")
    await ann.call("chat.room.set_role", "hall", "mod", "moderator")
    await mod.call("chat.room.ban", "hall", "cid", reason="spam", duration=3600)
    await mod.call("chat.room.mute", "hall", "bob")
    assert await error_of(cid.call("chat.room.join", "hall")) == FORBIDDEN
    assert await error_of(cid.call("chat.message.send", "hall", "let me in")) == FORBIDDEN
    assert await error_of(bob.call("chat.message.send", "hall", "hello?")) == FORBIDDEN
    assert (await bob.call("chat.message.history", "hall"))["messages"] == []
    await mod.call("chat.room.unmute", "hall", "bob")
    sent = await bob.call("chat.message.send", "hall", "thanks")
    assert sent["text"] == "thanks"
    assert [b["user"] for b in await ann.call("chat.room.bans", "hall")] == ["cid"]


@pytest_twisted.ensureDeferred
async def test_a_server_ban_ends_every_session_on_every_node_within_5_s_and_refuses_logins(cluster):
    await two_nodes(cluster, "bob")
    await admin(cluster.nodes["na"], "adduser", "root", "--role", "admin", password=PASSWORD)
    root = await cluster.user("na", "root")
    bob_a, bob_b = await cluster.user("na", "bob"), await cluster.user("nb", "bob")
    await root.call("chat.admin.ban", "bob", reason="abuse", duration=600)
    for session in (bob_a, bob_b):
        assert (await ended_within(session, 5.0)).reason == BANNED
    for node in ("na", "nb"):
        refused = await refusal(cluster, node, "bob")
        assert refused.error == BANNED and "abuse" in refused.args[0]
    assert [b["user"] for b in await root.call("chat.admin.bans")] == ["bob"]
    await root.call("chat.admin.unban", "bob")
    again = await cluster.user("nb", "bob")
    assert (await again.call("chat.user.me"))["user"] == "bob"


@pytest_twisted.ensureDeferred
async def test_a_password_change_ends_the_other_nodes_sessions_but_not_a_new_login(cluster):
    await two_nodes(cluster, "bob")
    here, there = await cluster.user("na", "bob"), await cluster.user("nb", "bob")
    await here.call("chat.user.change_password", PASSWORD, NEW_PASSWORD)
    fresh = await cluster.user("nb", "bob", password=NEW_PASSWORD)
    assert (await ended_within(there, 5.0)).reason == "wampchat.close.password_changed"
    # the login made after the change, on the node that applies it from the feed, stays
    watcher = await listen(fresh, "chat.user.bob.notify")
    feed = cluster.nodes["nb"].service.getServiceNamed("chat").session.revocations
    await poll_until(lambda: feed.applied_count, timeout=5)
    assert (await fresh.call("chat.user.me"))["user"] == "bob"
    assert (await here.call("chat.user.me"))["user"] == "bob"
    assert watcher.events == []
