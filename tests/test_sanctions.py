"""Room sanctions over real sockets, on both stores (API §8): chat.room.kick, ban, unban, bans, mute and unmute,
who may act on whom, what each refuses afterwards, and their audit entries; a moderator deleting a message."""
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from chatkit import error_of, payloads, world  # noqa: F401 (fixtures)
from helpers import Collector, poll_until
from postgres import postgres  # noqa: F401 (fixture)
from test_moderation_roles import room_with as members_room

FORBIDDEN = "wampchat.error.forbidden"
INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"


@defer.inlineCallbacks
def room_with(world, room_id="den", private=False):
    """ann owns ``room_id``, bob moderates it, cid is a member: the three sessions."""
    ann, bob, cid = yield members_room(world, room_id, private)
    yield ann.call("chat.room.set_role", room_id, "bob", "moderator")
    return ann, bob, cid


@defer.inlineCallbacks
def admin(world, name="root"):
    world.add_admin(name)
    session = yield world.user(name, register=False)
    return session


@defer.inlineCallbacks
def member_names(session, room_id):
    return sorted(m["user"] for m in (yield session.call("chat.room.members", room_id)))


@defer.inlineCallbacks
def actions(session, room_id="den"):
    """The audit log's (action, actor, target) of a room, oldest first."""
    entries = (yield session.call("chat.admin.audit", room=room_id))["entries"]
    return [(e["action"], e["actor"], e.get("target")) for e in reversed(entries)]


@defer.inlineCallbacks
def refused_everywhere(session, room_id, message_id, calls=("join", "send", "react", "typing")):
    """Assert each of ``calls`` by ``session`` in the room is refused as forbidden."""
    made = {"join": ("chat.room.join", room_id), "send": ("chat.message.send", room_id, "let me in"),
            "react": ("chat.message.react", room_id, message_id, "👍"), "typing": ("chat.typing", room_id, True)}
    for name in calls:
        assert (yield error_of(session.call(*made[name]))) == FORBIDDEN, name


def until_joins(session, room_id, timeout=10.0):
    """Poll (with a deadline) until ``session`` may join the room again."""
    async def joins():
        try:
            await session.call("chat.room.join", room_id)
        except ApplicationError as e:
            assert e.error == FORBIDDEN, e
            return False
        return True
    return poll_until(joins, timeout=timeout, interval=0.2)


# -- who may act on whom -------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_who_may_act_and_every_argument_refusal(world):
    ann, bob, cid = yield room_with(world)
    dee = yield world.user("dee")
    yield dee.call("chat.room.join", "den")
    yield ann.call("chat.room.set_role", "den", "dee", "moderator")
    root = yield admin(world)
    yield root.call("chat.room.join", "den")
    guest = yield world.guest("Gus")
    yield guest.call("chat.room.join", "den")
    yield world.register("eve")   # an account, not a member
    for action in ("kick", "ban", "mute"):
        proc = f"chat.room.{action}"
        refusals = [
            (cid, ("den", "dee"), FORBIDDEN),         # a member
            (guest, ("den", "cid"), FORBIDDEN),       # a guest
            (bob, ("den", "dee"), FORBIDDEN),         # a moderator on another moderator
            (bob, ("den", "ann"), FORBIDDEN),         # a moderator on the owner
            (ann, ("den", "root"), FORBIDDEN),        # anyone but an admin on an admin
            (bob, ("den", "bob"), INVALID),           # oneself
            (bob, ("den", "nobody"), NOT_FOUND),      # no such user
            (bob, ("den", 42), INVALID),
            (bob, ("den", "Not A Name"), INVALID),
            (bob, ("nope", "cid"), NOT_FOUND),        # no such room
            (bob, ("Bad Room!", "cid"), INVALID),
        ]
        for session, args, error in refusals:
            assert (yield error_of(session.call(proc, *args))) == error, (action, args)
        for bad in ({"reason": "x" * 501}, {"reason": 42}):
            assert (yield error_of(bob.call(proc, "den", "cid", **bad))) == INVALID, (action, bad)
        if action != "kick":
            for duration in (-1, 0, True, "10", 10 ** 12):
                assert (yield error_of(bob.call(proc, "den", "cid", duration=duration))) == INVALID, (action, duration)
    assert (yield error_of(bob.call("chat.room.kick", "den", "eve"))) == NOT_FOUND   # not a member
    for proc in ("chat.room.unban", "chat.room.unmute", "chat.room.bans"):
        args = ("den",) if proc.endswith("bans") else ("den", "cid")
        assert (yield error_of(cid.call(proc, *args))) == FORBIDDEN, proc
        assert (yield error_of(guest.call(proc, *args))) == FORBIDDEN, proc
    assert (yield member_names(ann, "den")) == ["ann", "bob", "cid", "dee", guest.details.authid, "root"]
    # nothing above changed anything; now those who may
    assert (yield bob.call("chat.room.kick", "den", "cid")) is None          # a moderator on a member
    assert (yield ann.call("chat.room.kick", "den", "dee")) is None          # the owner on a moderator
    assert (yield root.call("chat.room.kick", "den", "ann")) is None         # an admin on the owner
    assert (yield member_names(root, "den")) == ["bob", guest.details.authid, "root"]
    assert (yield root.call("chat.room.mute", "den", "bob")) is None
    assert (yield ann.call("chat.room.ban", "den", "bob", duration=60)) is None   # the owner, a non-member now
    assert (yield actions(root)) == [("set_role", "ann", "bob"), ("set_role", "ann", "dee"), ("kick", "bob", "cid"),
                                     ("kick", "ann", "dee"), ("kick", "root", "ann"), ("mute", "root", "bob"),
                                     ("ban", "ann", "bob")]


@pytest_twisted.inlineCallbacks
def test_nobody_lifts_their_own_sanction_nor_one_on_an_equal_or_higher_role(world):
    ann, bob, cid = yield room_with(world)
    dee = yield world.user("dee")
    yield dee.call("chat.room.join", "den")
    yield ann.call("chat.room.set_role", "den", "dee", "moderator")
    root = yield admin(world)
    yield ann.call("chat.room.mute", "den", "bob")                # the owner mutes a moderator
    assert (yield error_of(bob.call("chat.room.unmute", "den", "bob"))) == INVALID
    assert (yield error_of(dee.call("chat.room.unmute", "den", "bob"))) == FORBIDDEN
    assert (yield error_of(bob.call("chat.message.send", "den", "still muted"))) == FORBIDDEN
    yield ann.call("chat.room.unmute", "den", "bob")
    yield root.call("chat.room.ban", "den", "ann", reason="abuse")   # an admin bans the owner
    assert (yield error_of(ann.call("chat.room.unban", "den", "ann"))) == INVALID
    assert (yield error_of(bob.call("chat.room.unban", "den", "ann"))) == FORBIDDEN
    assert (yield error_of(ann.call("chat.room.join", "den"))) == FORBIDDEN
    yield root.call("chat.room.unban", "den", "ann")
    yield ann.call("chat.room.join", "den")
    for proc in ("chat.room.unban", "chat.room.unmute"):
        assert (yield error_of(bob.call(proc, "den", 42))) == INVALID, proc
        assert (yield error_of(bob.call(proc, "nope", "cid"))) == NOT_FOUND, proc
    guest = yield world.guest("Gus")                                 # lifting needs no one online
    gone = guest.details.authid
    yield guest.call("chat.room.join", "den")
    yield bob.call("chat.room.ban", "den", gone)
    yield bob.call("chat.room.mute", "den", gone)
    yield guest.leave()
    yield guest.closed
    assert (yield bob.call("chat.room.unban", "den", gone)) is None
    assert (yield bob.call("chat.room.unmute", "den", gone)) is None


# -- kick ----------------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_kick_tells_the_room_and_the_user_and_they_may_rejoin_a_public_room(world):
    ann, bob, cid = yield room_with(world)
    presence = yield world.listen(ann, "chat.room.den.presence")
    notify = yield world.listen(cid, "chat.user.cid.notify")
    assert (yield bob.call("chat.room.kick", "den", "cid", reason="  calm down ")) is None
    yield presence.wait_for(1)
    assert payloads(presence) == [{"user": "cid", "nick": "cid", "event": "kick", "by": "bob",
                                   "reason": "calm down"}]
    yield notify.wait_for(1)
    assert payloads(notify) == [{"event": "kicked", "room": "den", "by": "bob", "reason": "calm down"}]
    assert (yield member_names(ann, "den")) == ["ann", "bob"]
    assert (yield error_of(bob.call("chat.room.kick", "den", "cid"))) == NOT_FOUND   # not a member any more
    joined = yield cid.call("chat.room.join", "den")
    assert "cid" in [m["user"] for m in joined["members"]]
    yield cid.call("chat.message.send", "den", "back again")
    assert (yield bob.call("chat.room.kick", "den", "cid")) is None   # no reason
    assert (yield actions(ann)) == [("set_role", "ann", "bob"), ("kick", "bob", "cid"), ("kick", "bob", "cid")]
    entry = (yield ann.call("chat.admin.audit", room="den"))["entries"][1]
    assert entry["reason"] == "calm down"


@pytest_twisted.inlineCallbacks
def test_kick_from_a_private_room_stops_its_events_and_reads(world):
    ann, bob, cid = yield room_with(world, "hush", private=True)
    first = yield ann.call("chat.message.send", "hush", "hello hush")
    seen_by_cid = Collector()
    subscription = yield cid.subscribe(seen_by_cid, "chat.room.hush.message")
    seen_by_bob = yield world.listen(bob, "chat.room.hush.message")
    yield ann.call("chat.room.kick", "hush", "cid", reason="bye")
    yield ann.call("chat.message.send", "hush", "after the kick")
    yield seen_by_bob.wait_for(1)
    assert [m["text"] for m in payloads(seen_by_bob)] == ["after the kick"]
    assert seen_by_cid.events == []
    assert (yield error_of(cid.call("chat.message.history", "hush"))) == NOT_FOUND
    assert (yield error_of(cid.call("chat.message.search", "hello", room="hush"))) == NOT_FOUND
    assert (yield error_of(cid.call("chat.message.react", "hush", first["id"], "👍"))) == NOT_FOUND
    found = yield cid.call("chat.message.search", "hello")
    assert found["messages"] == []                      # not from a room they left either
    # invited back, the subscription taken away stays away; a new one is needed
    yield ann.call("chat.room.invite", "hush", "cid")
    yield ann.call("chat.message.send", "hush", "welcome back")
    yield seen_by_bob.wait_for(2)
    assert seen_by_cid.events == []
    yield subscription.unsubscribe()   # the client drops the revoked subscription: no error
    again = yield world.listen(cid, "chat.room.hush.message")
    yield ann.call("chat.message.send", "hush", "now you see it")
    yield again.wait_for(1)
    assert [m["text"] for m in payloads(again)] == ["now you see it"]


# -- ban -----------------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_ban_kicks_refuses_until_unbanned_and_is_listed_for_moderators(world):
    ann, bob, cid = yield room_with(world)
    message = yield ann.call("chat.message.send", "den", "react to me")
    presence = yield world.listen(ann, "chat.room.den.presence")
    notify = yield world.listen(cid, "chat.user.cid.notify")
    assert (yield bob.call("chat.room.ban", "den", "cid", reason="spam")) is None
    yield presence.wait_for(1)
    event = payloads(presence)[0]
    assert {"user": "cid", "event": "ban", "by": "bob", "reason": "spam"}.items() <= event.items()
    yield notify.wait_for(1)
    assert {"event": "banned", "room": "den", "by": "bob", "reason": "spam"}.items() <= payloads(notify)[0].items()
    assert (yield member_names(ann, "den")) == ["ann", "bob"]
    yield refused_everywhere(cid, "den", message["id"])
    assert (yield cid.call("chat.message.history", "den"))["messages"]   # a public room stays readable
    assert (yield ann.call("chat.room.bans", "den")) == [{"user": "cid", "by": "bob", "reason": "spam", "until": None}]
    assert (yield bob.call("chat.room.bans", "den"))[0]["user"] == "cid"
    assert (yield error_of(cid.call("chat.room.bans", "den"))) == FORBIDDEN
    dee = yield world.user("dee")
    assert (yield error_of(dee.call("chat.room.bans", "den"))) == FORBIDDEN
    assert (yield error_of(ann.call("chat.room.unban", "den", "dee"))) == NOT_FOUND   # not banned
    assert (yield bob.call("chat.room.unban", "den", "cid")) is None
    assert (yield error_of(bob.call("chat.room.unban", "den", "cid"))) == NOT_FOUND   # not any more
    assert (yield ann.call("chat.room.bans", "den")) == []
    yield cid.call("chat.room.join", "den")
    yield cid.call("chat.message.send", "den", "behaving now")
    yield cid.call("chat.message.react", "den", message["id"], "👍")
    yield cid.call("chat.typing", "den", True)
    yield bob.call("chat.room.ban", "den", "dee")   # a ban on a non-member holds too
    yield refused_everywhere(dee, "den", message["id"], ("join", "send"))
    assert (yield actions(ann)) == [("set_role", "ann", "bob"), ("ban", "bob", "cid"), ("unban", "bob", "cid"),
                                    ("ban", "bob", "dee")]


@pytest_twisted.inlineCallbacks
def test_a_ban_from_a_private_room_refuses_every_read_and_invite(world):
    ann, bob, cid = yield room_with(world, "hush", private=True)
    message = yield ann.call("chat.message.send", "hush", "secret words")
    yield bob.call("chat.room.ban", "hush", "cid", reason="leaks")
    for call in (("chat.message.history", "hush"), ("chat.room.members", "hush"), ("chat.room.join", "hush"),
                 ("chat.message.send", "hush", "hi"), ("chat.message.react", "hush", message["id"], "👍"),
                 ("chat.typing", "hush", True)):
        assert (yield error_of(cid.call(*call))) == FORBIDDEN, call
    assert (yield error_of(cid.call("chat.message.search", "secret", room="hush"))) == FORBIDDEN
    assert (yield cid.call("chat.message.search", "secret"))["messages"] == []
    assert (yield error_of(ann.call("chat.room.invite", "hush", "cid"))) == FORBIDDEN
    yield ann.call("chat.room.unban", "hush", "cid")
    yield ann.call("chat.room.invite", "hush", "cid")
    assert [m["text"] for m in (yield cid.call("chat.message.history", "hush"))["messages"]] == ["secret words"]


@pytest_twisted.inlineCallbacks
def test_a_timed_ban_ends_by_itself(world):
    ann, bob, cid = yield room_with(world)
    yield bob.call("chat.room.ban", "den", "cid", duration=1)
    bans = yield bob.call("chat.room.bans", "den")
    assert len(bans) == 1 and isinstance(bans[0]["until"], int)
    assert (yield error_of(cid.call("chat.room.join", "den"))) == FORBIDDEN
    yield until_joins(cid, "den")
    yield cid.call("chat.message.send", "den", "free again")
    assert (yield bob.call("chat.room.bans", "den")) == []
    assert (yield error_of(bob.call("chat.room.unban", "den", "cid"))) == NOT_FOUND   # ended already


@pytest_twisted.inlineCallbacks
def test_banning_a_guest_holds_new_guests_from_its_address_but_not_accounts(world):
    ann, bob, cid = yield room_with(world)
    guest = yield world.guest("Gus")
    yield guest.call("chat.room.join", "den")
    yield bob.call("chat.room.ban", "den", guest.details.authid, reason="trolling")
    assert (yield error_of(guest.call("chat.message.send", "den", "hi"))) == FORBIDDEN
    fresh = yield world.guest("Gustav")   # a new guest id from the same 127.0.0.1
    assert fresh.details.authid != guest.details.authid
    assert (yield error_of(fresh.call("chat.room.join", "den"))) == FORBIDDEN
    assert (yield error_of(fresh.call("chat.message.send", "den", "hello"))) == FORBIDDEN
    yield fresh.call("chat.room.join", "lobby")   # other rooms are open to it
    dee = yield world.user("dee")                 # an account from the same address is not held back
    yield dee.call("chat.room.join", "den")
    yield dee.call("chat.message.send", "den", "hello")
    yield bob.call("chat.room.unban", "den", guest.details.authid)
    yield fresh.call("chat.room.join", "den")
    yield fresh.call("chat.message.send", "den", "thanks")


# -- mute ----------------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_mute_lets_a_member_read_but_not_speak_across_a_rejoin(world):
    ann, bob, cid = yield room_with(world)
    message = yield ann.call("chat.message.send", "den", "hello all")
    presence = yield world.listen(ann, "chat.room.den.presence")
    assert (yield bob.call("chat.room.mute", "den", "cid")) is None
    yield presence.wait_for(1)
    assert {"user": "cid", "nick": "cid", "event": "mute", "by": "bob"}.items() <= payloads(presence)[0].items()
    assert [m["text"] for m in (yield cid.call("chat.message.history", "den"))["messages"]] == ["hello all"]
    assert "cid" in (yield member_names(cid, "den"))
    yield refused_everywhere(cid, "den", message["id"], ("send", "react", "typing"))
    yield cid.call("chat.typing", "den", False)   # stopping is no speech
    yield cid.call("chat.room.leave", "den")
    yield cid.call("chat.room.join", "den")       # rejoining is allowed, and keeps the mute
    yield refused_everywhere(cid, "den", message["id"], ("send", "react", "typing"))
    assert (yield bob.call("chat.room.unmute", "den", "cid")) is None
    yield presence.wait_for(4)   # mute, leave, join, unmute
    assert [(e["event"], e["user"]) for e in payloads(presence)] == \
        [("mute", "cid"), ("leave", "cid"), ("join", "cid"), ("unmute", "cid")]
    assert payloads(presence)[3]["by"] == "bob"
    assert (yield error_of(bob.call("chat.room.unmute", "den", "cid"))) == NOT_FOUND
    yield cid.call("chat.message.send", "den", "I may speak")
    yield cid.call("chat.message.react", "den", message["id"], "👍")
    yield cid.call("chat.typing", "den", True)
    assert (yield actions(ann)) == [("set_role", "ann", "bob"), ("mute", "bob", "cid"), ("unmute", "bob", "cid")]


@pytest_twisted.inlineCallbacks
def test_a_timed_mute_ends_by_itself(world):
    ann, bob, cid = yield room_with(world)
    yield bob.call("chat.room.mute", "den", "cid", duration=1)
    assert (yield error_of(cid.call("chat.message.send", "den", "hi"))) == FORBIDDEN

    async def speaks():
        try:
            await cid.call("chat.message.send", "den", "hi")
        except ApplicationError as e:
            assert e.error == FORBIDDEN, e
            return False
        return True
    yield poll_until(speaks, timeout=10, interval=0.2)
    assert (yield error_of(bob.call("chat.room.unmute", "den", "cid"))) == NOT_FOUND


@pytest_twisted.inlineCallbacks
def test_banned_or_muted_authors_may_not_rewrite_their_messages_but_may_delete_them(world):
    ann, bob, cid = yield room_with(world)
    said = []
    for n in range(2):
        said.append((yield cid.call("chat.message.send", "den", f"line {n}"))["id"])
    yield bob.call("chat.room.mute", "den", "cid")
    assert (yield error_of(cid.call("chat.message.edit", "den", said[0], "buy my stuff"))) == FORBIDDEN
    yield bob.call("chat.room.ban", "den", "cid")
    assert (yield error_of(cid.call("chat.message.edit", "den", said[0], "buy my stuff"))) == FORBIDDEN
    assert (yield cid.call("chat.message.delete", "den", said[1])) is None   # taking words back is fine
    texts = [m["text"] for m in (yield ann.call("chat.message.history", "den"))["messages"]]
    assert texts == ["line 0", ""]
    yield bob.call("chat.room.unban", "den", "cid")
    yield bob.call("chat.room.unmute", "den", "cid")
    assert (yield cid.call("chat.message.edit", "den", said[0], "line zero"))["text"] == "line zero"


# -- deleting others' messages -------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_a_moderator_deletes_a_members_message_and_it_is_audited(world):
    ann, bob, cid = yield room_with(world)
    mine = yield cid.call("chat.message.send", "den", "something rude")
    theirs = yield ann.call("chat.message.send", "den", "the owner speaks")
    dee = yield world.user("dee")
    yield dee.call("chat.room.join", "den")
    assert (yield error_of(dee.call("chat.message.delete", "den", mine["id"]))) == FORBIDDEN
    assert (yield error_of(cid.call("chat.message.delete", "den", theirs["id"]))) == FORBIDDEN
    deletions = yield world.listen(dee, "chat.room.den.delete")
    assert (yield bob.call("chat.message.delete", "den", mine["id"])) is None
    yield deletions.wait_for(1)
    assert payloads(deletions) == [{"id": mine["id"], "room": "den"}]
    shown = {m["id"]: m for m in (yield dee.call("chat.message.history", "den"))["messages"]}
    assert shown[mine["id"]].get("deleted") and shown[mine["id"]]["text"] == ""
    yield ann.call("chat.message.delete", "den", theirs["id"])   # one's own: not audited
    entries = (yield ann.call("chat.admin.audit", room="den"))["entries"]
    assert [(e["action"], e["actor"], e["target"]) for e in entries] == \
        [("delete_message", "bob", "cid"), ("set_role", "ann", "bob")]
    assert mine["id"] in entries[0]["reason"]
