"""End-to-end chat flows over real WebSockets: conversations, reconnects, restarts, presence, typing."""
import pytest_twisted

from chatkit import PASSWORD, error_of, leave, close, payloads, world, make_world  # noqa: F401 (fixtures)
from helpers import poll_until


@pytest_twisted.inlineCallbacks
def test_three_users_private_room_and_dm(world):
    """Ann, Bob and Cid talk in the lobby; Ann and Bob in a private room; Bob and Cid in a DM; nobody sees more."""
    ann = yield world.user("ann")
    bob = yield world.user("bob", method="wampcra")
    cid = yield world.user("cid")
    for s in (ann, bob, cid):
        yield s.call("chat.room.join", "lobby")
    lobby_cid = yield world.listen(cid, "chat.room.lobby.message")
    yield ann.call("chat.message.send", "lobby", "hi all")
    yield bob.call("chat.message.send", "lobby", "hi ann")
    yield lobby_cid.wait_for(2)
    assert [(m["user"], m["text"]) for m in payloads(lobby_cid)] == [("ann", "hi all"), ("bob", "hi ann")]

    bob_notify = yield world.listen(bob, "chat.user.bob.notify")
    room = yield ann.call("chat.room.create", "plans", title="Plans", private=True)
    assert room == {"id": "plans", "title": "Plans", "private": True, "owner": "ann", "created": room["created"],
                    "topic": "", "read_only": False, "slow_mode": 0, "retention_days": 0, "dm": False}
    yield ann.call("chat.room.invite", "plans", "bob")
    yield bob_notify.wait_for(1)
    assert payloads(bob_notify)[0] == {"event": "invited", "room": room}
    plans_bob = yield world.listen(bob, "chat.room.plans.message")
    sent = yield ann.call("chat.message.send", "plans", "secret plan")
    yield plans_bob.wait_for(1)
    assert payloads(plans_bob) == [sent]
    assert (yield error_of(cid.call("chat.message.history", "plans"))) == "wampchat.error.not_found"
    assert (yield error_of(cid.subscribe(lambda *a: None, "chat.room.plans.message"))) == "wamp.error.not_authorized"
    assert "plans" not in [r["id"] for r in (yield cid.call("chat.room.list"))]

    cid_notify = yield world.listen(cid, "chat.user.cid.notify")
    dm = yield bob.call("chat.dm.open", "cid")
    assert dm["id"] == "dm_bob_cid" and dm["private"] is True
    yield cid_notify.wait_for(1)
    assert payloads(cid_notify)[0] == {"event": "dm", "room": dm}
    assert (yield cid.call("chat.dm.open", "bob")) == dm
    dm_cid = yield world.listen(cid, "chat.room.dm_bob_cid.message")
    yield bob.call("chat.message.send", "dm_bob_cid", "psst")
    yield dm_cid.wait_for(1)
    assert payloads(dm_cid)[0]["text"] == "psst"
    assert (yield error_of(ann.call("chat.message.history", "dm_bob_cid"))) == "wampchat.error.not_found"
    members = yield cid.call("chat.room.members", "dm_bob_cid")
    assert [(m["user"], m["online"]) for m in members] == [("bob", True), ("cid", True)]
    ann_rooms = {r["id"] for r in (yield ann.call("chat.room.list"))}
    assert ann_rooms == {"lobby", "plans"}


@pytest_twisted.inlineCallbacks
def test_reconnect_catches_up_with_after(make_world):
    """A client that drops, misses messages and reconnects gets exactly the missed ones with after=last seen."""
    world = yield make_world(["--send-rate", "1000"])
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.join", "lobby")
    seen = yield world.listen(bob, "chat.room.lobby.message")
    for i in range(3):
        yield ann.call("chat.message.send", "lobby", f"before {i}")
    yield seen.wait_for(3)
    last_seen = payloads(seen)[-1]["id"]
    close(bob)
    yield bob.closed
    missed = []
    for i in range(70):
        missed.append((yield ann.call("chat.message.send", "lobby", f"missed {i}")))
    bob = yield world.user("bob", register=False)
    got, cursor, more = [], last_seen, True
    while more:
        page = yield bob.call("chat.message.history", "lobby", after=cursor, limit=30)
        got += page["messages"]
        more = page["more"]
        cursor = got[-1]["id"] if got else cursor
    assert got == missed


@pytest_twisted.inlineCallbacks
def test_restart_keeps_history_users_rooms_and_markers(world):
    """After a server restart users log in again and find rooms, members, messages, edits and read markers."""
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "plans", private=True)
    yield ann.call("chat.room.invite", "plans", "bob")
    first = yield ann.call("chat.message.send", "plans", "one")
    second = yield ann.call("chat.message.send", "plans", "two")
    yield ann.call("chat.message.edit", "plans", second["id"], "two, edited")
    yield bob.call("chat.read", "plans", first["id"])
    before = yield bob.call("chat.message.history", "plans")

    yield world.restart()
    ann = yield world.user("ann", register=False)
    bob = yield world.user("bob", register=False, method="wampcra")
    after = yield bob.call("chat.message.history", "plans")
    assert after == before and after["messages"][1]["text"] == "two, edited"
    rooms = {r["id"]: r for r in (yield bob.call("chat.room.list"))}
    assert rooms["plans"]["unread"] == 1 and rooms["plans"]["last_message"]["id"] == second["id"]
    assert "lobby" in rooms
    assert [m["user"] for m in (yield ann.call("chat.room.members", "plans"))] == ["ann", "bob"]
    third = yield bob.call("chat.message.send", "plans", "three")
    assert third["id"] > second["id"]


@pytest_twisted.inlineCallbacks
def test_presence_with_two_sessions_and_a_dropped_connection(world):
    """Offline is announced only when a user's last session goes, also when it drops without GOODBYE."""
    ann = yield world.user("ann")
    yield ann.call("chat.room.join", "lobby")
    watcher = yield world.guest("Watcher")
    presence = yield world.listen(watcher, "chat.room.lobby.presence")
    ann2 = yield world.user("ann", register=False)
    yield leave(ann)
    members = yield watcher.call("chat.room.members", "lobby")
    assert {"user": "ann", "nick": "ann", "online": True, "role": "member"} in members
    close(ann2)  # no GOODBYE
    yield presence.wait_for(1)
    assert payloads(presence) == [{"user": "ann", "nick": "ann", "event": "offline"}]
    ann3 = yield world.user("ann", register=False)
    yield presence.wait_for(2)
    assert payloads(presence)[1]["event"] == "online"
    yield ann3.call("chat.room.leave", "lobby")
    yield presence.wait_for(3)
    assert payloads(presence)[2] == {"user": "ann", "nick": "ann", "event": "leave"}


@pytest_twisted.inlineCallbacks
def test_guest_join_leave_presence_and_membership_ends_with_the_guest(world):
    """A guest joining shows up as a member; when its only session ends it goes offline and leaves."""
    ann = yield world.user("ann")
    presence = yield world.listen(ann, "chat.room.lobby.presence")
    guest = yield world.guest("Gus")
    me = yield guest.call("chat.user.me")
    assert me["nick"] == "Gus" and me["role"] == "guest" and me["user"].startswith("guest_")
    joined = yield guest.call("chat.room.join", "lobby")
    assert {"user": me["user"], "nick": "Gus", "online": True, "role": "member"} in joined["members"]
    yield presence.wait_for(1)
    close(guest)
    yield presence.wait_for(3)
    assert [p["event"] for p in payloads(presence)] == ["join", "offline", "leave"]
    members = yield ann.call("chat.room.members", "lobby")
    assert me["user"] not in [m["user"] for m in members]


@pytest_twisted.inlineCallbacks
def test_typing_is_announced_and_expires_by_itself(world):
    """chat.typing(true) is published, and a typing:false follows by itself when no stop arrives."""
    ann = yield world.user("ann")
    bob = yield world.guest("Bob")
    typing = yield world.listen(bob, "chat.room.lobby.typing")
    yield ann.call("chat.typing", "lobby", True)
    yield typing.wait_for(2, timeout=15)
    assert payloads(typing) == [{"user": "ann", "nick": "ann", "typing": True},
                                {"user": "ann", "nick": "ann", "typing": False}]


@pytest_twisted.inlineCallbacks
def test_sending_ends_typing_and_explicit_stop_is_published_once(world):
    """A message ends its author's typing state; a stop without a start publishes nothing."""
    ann = yield world.user("ann")
    typing = yield world.listen(ann, "chat.room.lobby.typing")
    messages = yield world.listen(ann, "chat.room.lobby.message")
    yield ann.call("chat.typing", "lobby", False)
    yield ann.call("chat.typing", "lobby", True)
    yield ann.call("chat.message.send", "lobby", "done typing")
    yield messages.wait_for(1)
    yield typing.wait_for(2)
    assert [p["typing"] for p in payloads(typing)] == [True, False]


@pytest_twisted.inlineCallbacks
def test_nothing_published_before_commit(world):
    """The event of a sent message arrives after, or with, a history that already holds it."""
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    checked = []

    def on_message(message):
        d = bob.call("chat.message.history", "lobby", after=None, limit=200)
        d.addCallback(lambda page: checked.append(message["id"] in [m["id"] for m in page["messages"]]))

    yield bob.subscribe(on_message, "chat.room.lobby.message")
    for i in range(5):
        yield ann.call("chat.message.send", "lobby", f"m{i}")
    yield poll_until(lambda: len(checked) == 5)
    assert checked == [True] * 5


@pytest_twisted.inlineCallbacks
def test_concurrent_sends_are_published_in_id_order(make_world):
    """Sends racing from several new members reach subscribers in id order, the order history gives."""
    from twisted.internet import defer

    world = yield make_world(["--send-rate", "1000"])
    senders = []
    for i in range(8):
        senders.append((yield world.guest(f"Sender {i}")))
    watcher = yield world.guest("Watcher")
    events = yield world.listen(watcher, "chat.room.lobby.message")
    calls = [s.call("chat.message.send", "lobby", f"{i}") for i in range(5) for s in senders]
    yield defer.gatherResults(calls)
    yield events.wait_for(40)
    ids = [m["id"] for m in payloads(events)]
    page = yield watcher.call("chat.message.history", "lobby", limit=200)
    assert ids == sorted(ids) == [m["id"] for m in page["messages"]]


@pytest_twisted.inlineCallbacks
def test_guest_memberships_do_not_survive_a_restart(world):
    """A guest still in a room when the server stops is not listed as a member after the restart."""
    guest = yield world.guest("Gus")
    me = yield guest.call("chat.user.me")
    yield guest.call("chat.message.send", "lobby", "guest words stay")
    yield world.restart()
    ann = yield world.user("ann")
    members = yield ann.call("chat.room.members", "lobby")
    assert me["user"] not in [m["user"] for m in members]
    page = yield ann.call("chat.message.history", "lobby")
    assert [(m["user"], m["text"]) for m in page["messages"]] == [(me["user"], "guest words stay")]
