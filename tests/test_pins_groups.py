"""Pins, per-room notification levels and group DMs (API §9), on both stores."""
import pytest_twisted

from chatkit import error_of, make_world, payloads, world  # noqa: F401 (fixtures)

FORBIDDEN = "wampchat.error.forbidden"
INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"
CONFLICT = "wampchat.error.conflict"


@pytest_twisted.inlineCallbacks
def test_moderators_pin_in_rooms_and_everyone_sees_the_pins(world):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "den")
    yield bob.call("chat.room.join", "den")
    first = yield bob.call("chat.message.send", "den", "rules: be kind")
    second = yield ann.call("chat.message.send", "den", "meeting at 5")
    events = yield world.listen(bob, "chat.room.den.pin")
    assert (yield error_of(bob.call("chat.message.pin", "den", first["id"]))) == FORBIDDEN   # a member
    room = yield ann.call("chat.message.pin", "den", first["id"])
    assert room["id"] == "den" and room["pinned"] == [first["id"]]
    yield ann.call("chat.room.set_role", "den", "bob", "moderator")
    room = yield bob.call("chat.message.pin", "den", second["id"])
    assert room["pinned"] == [second["id"], first["id"]]          # newest pin first
    yield events.wait_for(2)
    assert payloads(events)[0] == {"room": "den", "id": first["id"], "on": True, "by": "ann"}
    assert [m["text"] for m in (yield bob.call("chat.room.pins", "den"))] == ["meeting at 5", "rules: be kind"]
    assert (yield bob.call("chat.room.join", "den"))["room"]["pinned"] == [second["id"], first["id"]]
    yield ann.call("chat.message.pin", "den", first["id"])          # again: no change, no event
    room = yield ann.call("chat.message.pin", "den", second["id"], on=False)
    assert room["pinned"] == [first["id"]]
    yield ann.call("chat.message.delete", "den", first["id"])      # a deleted message is unpinned
    assert (yield ann.call("chat.room.pins", "den")) == []
    yield events.wait_for(3)
    assert len(events.events) == 3


@pytest_twisted.inlineCallbacks
def test_pin_refusals_and_the_limit(make_world):
    world = yield make_world(["--send-rate", "100"])
    ann = yield world.user("ann")
    cid = yield world.user("cid")
    yield ann.call("chat.room.create", "den", private=True)
    sent = yield ann.call("chat.message.send", "den", "hello")
    assert (yield error_of(cid.call("chat.message.pin", "den", sent["id"]))) == NOT_FOUND    # not a member
    assert (yield error_of(cid.call("chat.room.pins", "den"))) == NOT_FOUND
    assert (yield error_of(ann.call("chat.message.pin", "den", "nope"))) in (INVALID, NOT_FOUND)
    assert (yield error_of(ann.call("chat.message.pin", "den", sent["id"], on="yes"))) == INVALID
    ids = []
    for n in range(51):
        ids.append((yield ann.call("chat.message.send", "den", f"m{n}"))["id"])
    for message_id in ids[:50]:
        yield ann.call("chat.message.pin", "den", message_id)
    assert (yield error_of(ann.call("chat.message.pin", "den", ids[50]))) == CONFLICT
    assert len((yield ann.call("chat.room.pins", "den"))) == 50


@pytest_twisted.inlineCallbacks
def test_any_member_pins_in_a_dm(world):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    dm = yield ann.call("chat.dm.open", "bob")
    assert dm["dm"] is True
    sent = yield ann.call("chat.message.send", dm["id"], "the address")
    assert (yield bob.call("chat.message.pin", dm["id"], sent["id"]))["pinned"] == [sent["id"]]


@pytest_twisted.inlineCallbacks
def test_notification_level_none_silences_mentions(world):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "den")
    yield bob.call("chat.room.join", "den")
    notices = yield world.listen(bob, "chat.user.bob.notify")
    listed = {r["id"]: r for r in (yield bob.call("chat.room.list"))}
    assert listed["den"]["notify"] == "all"
    assert (yield bob.call("chat.room.notify", "den", "none")) is None
    assert {r["id"]: r for r in (yield bob.call("chat.room.list"))}["den"]["notify"] == "none"
    yield ann.call("chat.message.send", "den", "@bob are you there?")
    yield bob.call("chat.room.notify", "den", "mentions")
    yield ann.call("chat.message.send", "den", "@bob now?")
    yield notices.wait_for(1)
    assert [p["message"]["text"] for p in payloads(notices)] == ["@bob now?"]
    assert (yield error_of(bob.call("chat.room.notify", "den", "loud"))) == INVALID
    assert (yield error_of(bob.call("chat.room.notify", "lobby", "all"))) == FORBIDDEN   # not a member


@pytest_twisted.inlineCallbacks
def test_a_group_dm_is_one_room_per_set_of_people(world):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    cid = yield world.user("cid")
    yield world.register("dan")
    notices = yield world.listen(cid, "chat.user.cid.notify")
    room = yield ann.call("chat.dm.open_group", ["bob", "cid"])
    assert room["private"] is True and room["dm"] is True
    assert room["id"].startswith("dm_") and not any(name in room["id"] for name in ("ann", "bob", "cid"))
    yield notices.wait_for(1)
    assert payloads(notices)[0]["event"] == "dm" and payloads(notices)[0]["room"]["id"] == room["id"]
    again = yield cid.call("chat.dm.open_group", ["bob", "ann"])
    assert again["id"] == room["id"]
    other = yield ann.call("chat.dm.open_group", ["bob", "cid", "dan"])
    assert other["id"] != room["id"]
    members = {m["user"] for m in (yield bob.call("chat.room.members", room["id"]))}
    assert members == {"ann", "bob", "cid"}
    yield bob.call("chat.message.send", room["id"], "hi both")
    assert (yield error_of(ann.call("chat.room.invite", room["id"], "dan"))) == INVALID
    dan = yield world.user("dan", register=False)
    assert (yield error_of(dan.call("chat.message.history", room["id"]))) == NOT_FOUND


@pytest_twisted.inlineCallbacks
def test_group_dm_refusals(world):
    ann = yield world.user("ann")
    yield world.register("bob")
    for bad in ("bob", ["bob"], ["bob", "ann"], [f"u{n}" for n in range(10)], ["bob", 7]):
        assert (yield error_of(ann.call("chat.dm.open_group", bad))) == INVALID, bad
    assert (yield error_of(ann.call("chat.dm.open_group", ["bob", "nobody_here"]))) == NOT_FOUND
