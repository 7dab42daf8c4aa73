"""Room roles, room settings (read-only, slow mode), their enforcement on every node, and the audit log (API §8)."""
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from chatkit import ChatWorld, error_of, make_world, payloads, world  # noqa: F401 (fixtures)
from postgres import postgres  # noqa: F401 (fixture)

FORBIDDEN = "wampchat.error.forbidden"
INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"
RATE_LIMITED = "wampchat.error.rate_limited"


@pytest_twisted.inlineCallbacks
def room_with(world, room_id="den", private=False):
    """ann owns ``room_id``, bob and cid are members (bob made moderator when asked): the three sessions."""
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    cid = yield world.user("cid")
    yield ann.call("chat.room.create", room_id, private=private)
    for name, session in (("bob", bob), ("cid", cid)):
        if private:
            yield ann.call("chat.room.invite", room_id, name)
        else:
            yield session.call("chat.room.join", room_id)
    return ann, bob, cid


def roles(members):
    return {m["user"]: m["role"] for m in members}


@pytest_twisted.inlineCallbacks
def test_the_creator_is_owner_and_everyone_else_member(world):
    ann, bob, cid = yield room_with(world)
    assert roles((yield ann.call("chat.room.members", "den"))) == {"ann": "owner", "bob": "member", "cid": "member"}
    joined = yield bob.call("chat.room.join", "den")
    assert roles(joined["members"])["ann"] == "owner"
    assert {"topic": "", "read_only": False, "slow_mode": 0, "retention_days": 0}.items() <= joined["room"].items()
    listed = {r["id"]: r for r in (yield cid.call("chat.room.list"))}
    assert listed["den"]["slow_mode"] == 0 and listed["den"]["read_only"] is False


@pytest_twisted.inlineCallbacks
def test_set_role_by_the_owner_is_announced_and_audited(world):
    ann, bob, cid = yield room_with(world)
    events = yield world.listen(cid, "chat.room.den.presence")
    assert (yield ann.call("chat.room.set_role", "den", "bob", "moderator")) is None
    yield events.wait_for(1)
    assert payloads(events) == [{"user": "bob", "nick": "bob", "event": "role", "role": "moderator", "by": "ann"}]
    assert roles((yield cid.call("chat.room.members", "den")))["bob"] == "moderator"
    audit = yield ann.call("chat.admin.audit", room="den")
    entry = audit["entries"][0]
    assert (entry["actor"], entry["action"], entry["room"], entry["target"]) == ("ann", "set_role", "den", "bob")
    assert isinstance(entry["id"], int) and audit["more"] is False


@pytest_twisted.inlineCallbacks
def test_set_role_refusals(world):
    ann, bob, cid = yield room_with(world)
    yield ann.call("chat.room.set_role", "den", "bob", "moderator")
    guest = yield world.guest("Gus")
    yield guest.call("chat.room.join", "den")
    dan = yield world.user("dan")
    assert (yield error_of(cid.call("chat.room.set_role", "den", "bob", "member"))) == FORBIDDEN   # a member
    assert (yield error_of(bob.call("chat.room.set_role", "den", "cid", "moderator"))) == FORBIDDEN  # a moderator
    assert (yield error_of(bob.call("chat.room.set_role", "den", "ann", "member"))) == FORBIDDEN   # on the owner
    assert (yield error_of(guest.call("chat.room.set_role", "den", "cid", "moderator"))) == FORBIDDEN
    assert (yield error_of(ann.call("chat.room.set_role", "den", "ann", "member"))) == FORBIDDEN   # the owner's own
    assert (yield error_of(ann.call("chat.room.set_role", "den", "dan", "moderator"))) == NOT_FOUND  # not a member
    assert (yield error_of(ann.call("chat.room.set_role", "den", "bob", "owner"))) == INVALID
    assert (yield error_of(ann.call("chat.room.set_role", "den", "bob", None))) == INVALID
    assert (yield error_of(ann.call("chat.room.set_role", "den", "Bob!", "member"))) == INVALID
    assert (yield error_of(ann.call("chat.room.set_role", "nope", "bob", "member"))) == NOT_FOUND
    assert (yield error_of(dan.call("chat.room.set_role", "den", "cid", "member"))) == FORBIDDEN


@pytest_twisted.inlineCallbacks
def test_a_private_room_is_not_found_for_outsiders(world):
    ann, bob, cid = yield room_with(world, "hush", private=True)
    dan = yield world.user("dan")
    world.add_admin("root")
    root = yield world.user("root", register=False)
    for call in (("chat.room.set_role", "hush", "bob", "moderator"), ("chat.room.update", "hush")):
        assert (yield error_of(dan.call(*call))) == NOT_FOUND
    assert (yield error_of(dan.call("chat.room.update", "hush", topic="x"))) == NOT_FOUND
    assert (yield error_of(dan.call("chat.admin.audit", room="hush"))) == NOT_FOUND
    yield root.call("chat.room.set_role", "hush", "bob", "moderator")  # an admin may, member or not
    assert roles((yield ann.call("chat.room.members", "hush")))["bob"] == "moderator"


@pytest_twisted.inlineCallbacks
def test_update_rules_event_and_audit(world):
    ann, bob, cid = yield room_with(world)
    yield ann.call("chat.room.set_role", "den", "bob", "moderator")
    events = yield world.listen(cid, "chat.room.den.update")
    room = yield bob.call("chat.room.update", "den", title="The Den", topic="be nice", slow_mode=30)
    assert (room["title"], room["topic"], room["slow_mode"], room["read_only"]) == ("The Den", "be nice", 30, False)
    yield events.wait_for(1)
    assert payloads(events) == [room]
    joined = yield cid.call("chat.room.join", "den")   # join carries the settings now, not as cached
    assert joined["room"] == dict(room, pinned=[])   # and the room's pins
    assert (yield error_of(bob.call("chat.room.update", "den", read_only=True))) == FORBIDDEN
    assert (yield error_of(bob.call("chat.room.update", "den", retention_days=3))) == FORBIDDEN
    assert (yield error_of(cid.call("chat.room.update", "den", topic="mine"))) == FORBIDDEN
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.room.update", "den", topic="mine"))) == FORBIDDEN
    for bad in ({"topic": "x" * 501}, {"slow_mode": -1}, {"slow_mode": 10 ** 9}, {"slow_mode": True},
                {"read_only": "yes"}, {"retention_days": 1.5}, {"title": ""}, {"title": "x" * 101}):
        assert (yield error_of(ann.call("chat.room.update", "den", **bad))) == INVALID, bad
    room = yield ann.call("chat.room.update", "den", read_only=True, retention_days=7)
    assert (room["read_only"], room["retention_days"]) == (True, 7)
    entries = (yield ann.call("chat.admin.audit", room="den"))["entries"]
    assert [e["action"] for e in entries] == ["update_room", "update_room", "set_role"]
    assert entries[0]["actor"] == "ann" and "read_only=True" in entries[0]["reason"]
    assert "slow_mode=30" in entries[1]["reason"] and entries[1]["actor"] == "bob"


@pytest_twisted.inlineCallbacks
def test_read_only_lets_only_moderators_send(world):
    ann, bob, cid = yield room_with(world)
    yield ann.call("chat.room.set_role", "den", "bob", "moderator")
    yield ann.call("chat.room.update", "den", read_only=True)
    assert (yield error_of(cid.call("chat.message.send", "den", "hi"))) == FORBIDDEN
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.message.send", "den", "hi"))) == FORBIDDEN
    yield bob.call("chat.message.send", "den", "from a moderator")
    yield ann.call("chat.message.send", "den", "from the owner")
    world.add_admin("root")
    root = yield world.user("root", register=False)
    yield root.call("chat.message.send", "den", "from an admin")
    yield ann.call("chat.room.update", "den", read_only=False)
    yield cid.call("chat.message.send", "den", "open again")


@pytest_twisted.inlineCallbacks
def test_slow_mode_allows_one_message_per_interval(world):
    ann, bob, cid = yield room_with(world)
    yield ann.call("chat.room.update", "den", slow_mode=600)
    yield cid.call("chat.message.send", "den", "one")
    try:
        yield cid.call("chat.message.send", "den", "two")
        raise AssertionError("the second message went through")
    except ApplicationError as e:
        assert e.error == RATE_LIMITED and 590 < e.kwargs["retry_after"] <= 600
    yield bob.call("chat.message.send", "den", "another member has their own interval")
    yield ann.call("chat.message.send", "den", "the owner is not slowed")
    yield ann.call("chat.message.send", "den", "not at all")
    yield ann.call("chat.room.update", "den", slow_mode=0)
    yield cid.call("chat.message.send", "den", "off again")


@pytest_twisted.inlineCallbacks
def test_audit_readers(world):
    ann, bob, cid = yield room_with(world)
    yield ann.call("chat.room.create", "attic")
    yield ann.call("chat.room.update", "attic", topic="dusty")
    yield ann.call("chat.room.set_role", "den", "bob", "moderator")
    yield ann.call("chat.room.update", "den", topic="cosy")
    assert (yield error_of(cid.call("chat.admin.audit", room="den"))) == FORBIDDEN
    assert (yield error_of(cid.call("chat.admin.audit"))) == FORBIDDEN
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.admin.audit"))) == FORBIDDEN
    mine = yield bob.call("chat.admin.audit")   # without room: the rooms bob moderates
    assert {e["room"] for e in mine["entries"]} == {"den"}
    assert (yield error_of(bob.call("chat.admin.audit", room="attic"))) == FORBIDDEN
    world.add_admin("root")
    root = yield world.user("root", register=False)
    everything = yield root.call("chat.admin.audit")
    assert [e["action"] for e in everything["entries"]] == ["update_room", "set_role", "update_room"]
    first = yield root.call("chat.admin.audit", limit=2)
    assert first["more"] is True and len(first["entries"]) == 2
    rest = yield root.call("chat.admin.audit", before=first["entries"][-1]["id"], limit=2)
    assert rest["more"] is False and [e["room"] for e in rest["entries"]] == ["attic"]
    for bad in ({"limit": 0}, {"limit": 201}, {"before": "x"}, {"before": -1}, {"room": "Bad Room"}):
        assert (yield error_of(root.call("chat.admin.audit", **bad))) == INVALID, bad


@pytest_twisted.inlineCallbacks
def test_settings_hold_across_two_nodes(tmp_path, postgres):
    """The moderator changes the room on node A; node B (which cached the room before) enforces it at once."""
    url = postgres.new_database()
    a = yield ChatWorld(tmp_path / "a", url).start()
    b = yield ChatWorld(tmp_path / "b", url).start()
    try:
        ann = yield a.user("ann")
        yield ann.call("chat.room.create", "den")
        cid = yield b.user("cid")
        yield cid.call("chat.room.join", "den")
        yield cid.call("chat.message.send", "den", "before")
        yield ann.call("chat.room.update", "den", read_only=True)
        assert (yield error_of(cid.call("chat.message.send", "den", "now"))) == FORBIDDEN
        assert (yield cid.call("chat.room.join", "den"))["room"]["read_only"] is True
        yield ann.call("chat.room.update", "den", read_only=False, slow_mode=600)
        assert (yield error_of(cid.call("chat.message.send", "den", "too soon"))) == RATE_LIMITED
        yield ann.call("chat.room.set_role", "den", "cid", "moderator")
        yield cid.call("chat.message.send", "den", "a moderator is not slowed")
        assert (yield cid.call("chat.admin.audit", room="den"))["entries"][0]["action"] == "set_role"
    finally:
        yield a.stop()
        yield b.stop()
