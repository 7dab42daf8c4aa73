"""Every chat authorization rule (API.md §3), tried over real sockets by a user who must be refused."""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import defer

from chatkit import error_of, payloads, world, make_world  # noqa: F401 (fixtures)
from wampchat.router import auth
from wampchat.storage import run_sync
from wampchat.storage.engines import engine_for

DENIED = "wamp.error.not_authorized"


@defer.inlineCallbacks
def private_room(world):
    """Ann owns private room 'plans' with Bob in it; Eve is a registered outsider."""
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    eve = yield world.user("eve")
    yield ann.call("chat.room.create", "plans", private=True)
    yield ann.call("chat.room.invite", "plans", "bob")
    message = yield ann.call("chat.message.send", "plans", "members only")
    return ann, bob, eve, message


@pytest.mark.parametrize("topic", ["chat.room.lobby.message", "chat.rooms", "chat.user.eve.notify",
                                   "chat.room.plans.delete"])
@pytest_twisted.inlineCallbacks
def test_clients_never_publish_on_chat(world, topic):
    """No client, admin included, may publish under chat.*; the refused session stays up."""
    world.add_admin("root")
    root = yield world.user("root", register=False)
    eve = yield world.user("eve")
    for session in (eve, root):
        err = yield error_of(session.publish(topic, {"id": "forged"}, options=PublishOptions(acknowledge=True)))
        assert err == DENIED
    assert (yield eve.call("chat.user.me"))["user"] == "eve"


@pytest.mark.parametrize("uri", ["chat.message.send", "chat.evil", "chat.room.plans.message"])
@pytest_twisted.inlineCallbacks
def test_only_the_chat_service_registers_chat_procedures(world, uri):
    """Neither users nor admins can register a chat.* procedure (nor hijack an existing one)."""
    world.add_admin("root")
    root = yield world.user("root", register=False)
    eve = yield world.user("eve")
    for session in (eve, root):
        assert (yield error_of(session.register(lambda *a: "hijacked", uri))) == DENIED
    assert (yield eve.call("chat.user.me"))["user"] == "eve"


@pytest.mark.parametrize("kind", ["message", "edit", "delete", "typing", "presence", "read", "reaction"])
@pytest_twisted.inlineCallbacks
def test_private_room_topics_need_membership(world, kind):
    """An outsider cannot subscribe to any topic of a private room; a member can."""
    ann, bob, eve, _ = yield private_room(world)
    assert (yield error_of(eve.subscribe(lambda *a: None, f"chat.room.plans.{kind}"))) == DENIED
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.subscribe(lambda *a: None, f"chat.room.plans.{kind}"))) == DENIED
    yield bob.subscribe(lambda *a: None, f"chat.room.plans.{kind}")


@pytest_twisted.inlineCallbacks
def test_private_room_procedures_answer_not_found_to_outsiders(world):
    """Outsiders cannot read, join, send to, list, inspect, type in, mark, react in, search or invite into a
    private room."""
    ann, bob, eve, message = yield private_room(world)
    for call in [("chat.message.history", "plans"), ("chat.room.join", "plans"),
                 ("chat.message.send", "plans", "let me in"), ("chat.room.members", "plans"),
                 ("chat.typing", "plans", True), ("chat.read", "plans", message["id"]),
                 ("chat.room.invite", "plans", "eve"), ("chat.room.leave", "plans"),
                 ("chat.message.edit", "plans", message["id"], "mine now"),
                 ("chat.message.delete", "plans", message["id"]),
                 ("chat.message.react", "plans", message["id"], "👍")]:
        assert (yield error_of(eve.call(*call))) == "wampchat.error.not_found", call
    assert (yield error_of(eve.call("chat.message.search", "members", room="plans"))) == "wampchat.error.not_found"
    assert (yield error_of(eve.call("chat.message.history", "plans", changed_after=0))) == "wampchat.error.not_found"
    assert (yield eve.call("chat.message.search", "members"))["messages"] == []
    assert "plans" not in [r["id"] for r in (yield eve.call("chat.room.list"))]
    page = yield bob.call("chat.message.history", "plans")
    assert [m["text"] for m in page["messages"]] == ["members only"]
    assert [m["user"] for m in (yield ann.call("chat.room.members", "plans"))] == ["ann", "bob"]


@pytest_twisted.inlineCallbacks
def test_dm_is_closed_to_a_third_user(world):
    """A third user cannot read or subscribe to someone else's DM."""
    ann = yield world.user("ann")
    yield world.user("bob")
    eve = yield world.user("eve")
    yield ann.call("chat.dm.open", "bob")
    yield ann.call("chat.message.send", "dm_ann_bob", "just us")
    assert (yield error_of(eve.call("chat.message.history", "dm_ann_bob"))) == "wampchat.error.not_found"
    assert (yield error_of(eve.call("chat.room.join", "dm_ann_bob"))) == "wampchat.error.not_found"
    assert (yield error_of(eve.subscribe(lambda *a: None, "chat.room.dm_ann_bob.message"))) == DENIED


@pytest_twisted.inlineCallbacks
def test_user_topics_only_for_that_user(world):
    """chat.user.<name>.* is readable by that user only; a guest cannot take a user's notifications."""
    yield world.user("ann")
    eve = yield world.user("eve")
    guest = yield world.guest("Gus")
    for session in (eve, guest):
        assert (yield error_of(session.subscribe(lambda *a: None, "chat.user.ann.notify"))) == DENIED
    yield eve.subscribe(lambda *a: None, "chat.user.eve.notify")


@pytest.mark.parametrize("topic,match", [
    ("chat.room..message", "wildcard"), ("chat.room.", "prefix"), ("chat.user.", "prefix"),
    ("chat.user..notify", "wildcard"), ("chat.", "prefix"), ("chat.room.pla", "prefix"),
    ("chat.room.plans.", "prefix"),
])
@pytest_twisted.inlineCallbacks
def test_broad_subscriptions_refused_except_for_admins(world, topic, match):
    """Prefix and wildcard subscriptions that could reach unreadable topics are refused; an admin may use them."""
    ann, bob, eve, _ = yield private_room(world)
    assert (yield error_of(eve.subscribe(lambda *a: None, topic, options=SubscribeOptions(match=match)))) == DENIED
    world.add_admin("root")
    root = yield world.user("root", register=False)
    yield root.subscribe(lambda *a: None, topic, options=SubscribeOptions(match=match))


@pytest_twisted.inlineCallbacks
def test_prefix_on_one_readable_room_is_allowed_and_delivers(world):
    """A prefix subscription on one room's topics, which reaches nothing else, works for a member."""
    ann, bob, eve, _ = yield private_room(world)
    collector = yield world.listen(bob, "chat.room.plans.", match="prefix")
    yield ann.call("chat.typing", "plans", True)
    yield ann.call("chat.message.send", "plans", "prefix works")
    yield collector.wait_for(3)
    assert [p.get("text", p.get("typing")) for p in payloads(collector)] == [True, False, "prefix works"]


@pytest_twisted.inlineCallbacks
def test_edit_and_delete_of_someone_elses_message(world):
    """Editing is the author's only; deleting is author, room owner or admin; others get forbidden."""
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "annsroom")
    by_bob = yield bob.call("chat.message.send", "annsroom", "bob was here")
    by_ann = yield ann.call("chat.message.send", "lobby", "ann in lobby")
    by_bob_lobby = yield bob.call("chat.message.send", "lobby", "bob in lobby")
    assert (yield error_of(ann.call("chat.message.edit", "annsroom", by_bob["id"], "x"))) == "wampchat.error.forbidden"
    assert (yield error_of(bob.call("chat.message.delete", "lobby", by_ann["id"]))) == "wampchat.error.forbidden"
    assert (yield error_of(ann.call("chat.message.delete", "lobby", by_bob_lobby["id"]))) == \
        "wampchat.error.forbidden"
    page = yield ann.call("chat.message.history", "lobby")
    assert [m["text"] for m in page["messages"]] == ["ann in lobby", "bob in lobby"]
    yield ann.call("chat.message.delete", "annsroom", by_bob["id"])  # the room's owner may
    world.add_admin("root")
    root = yield world.user("root", register=False)
    yield root.call("chat.message.delete", "lobby", by_ann["id"])  # an admin may
    page = yield bob.call("chat.message.history", "lobby")
    assert [m.get("deleted", False) for m in page["messages"]] == [True, False]


@pytest_twisted.inlineCallbacks
def test_invite_is_for_owner_or_admin(world):
    """A member who does not own a private room cannot invite; an admin can."""
    ann, bob, eve, _ = yield private_room(world)
    assert (yield error_of(bob.call("chat.room.invite", "plans", "eve"))) == "wampchat.error.forbidden"
    assert (yield error_of(eve.call("chat.message.history", "plans"))) == "wampchat.error.not_found"
    world.add_admin("root")
    root = yield world.user("root", register=False)
    assert (yield error_of(root.call("chat.room.invite", "plans", "eve"))) == "wampchat.error.not_found"
    # an admin who is not a member does not see the room either; the owner invites the admin first
    yield ann.call("chat.room.invite", "plans", "root")
    yield root.call("chat.room.invite", "plans", "eve")
    assert len((yield eve.call("chat.message.history", "plans"))["messages"]) == 1


@pytest_twisted.inlineCallbacks
def test_guests_cannot_create_rooms(world):
    """Creating a room needs an account."""
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.room.create", "guestroom"))) == "wampchat.error.forbidden"
    assert "guestroom" not in [r["id"] for r in (yield guest.call("chat.room.list"))]


@pytest_twisted.inlineCallbacks
def test_registration_can_be_closed(make_world):
    """With --no-open-registration chat.user.register is forbidden and no user is created."""
    world = yield make_world(["--no-open-registration"])
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.user.register", "ann", "a long password"))) == "wampchat.error.forbidden"
    with pytest.raises(ApplicationError):
        yield world.user("ann", register=False)


@pytest_twisted.inlineCallbacks
def test_guest_nick_must_be_unique_and_not_a_users_name(world):
    """A second guest with a taken nick (any case), or a registered user's name, is refused; the first stays."""
    first = yield world.guest("Gus")
    yield world.register("ann")
    for nick in ("Gus", "gUS", "ann"):
        with pytest.raises(ApplicationError) as info:
            yield world.guest(nick)
        assert info.value.error == "wampchat.error.conflict"
    assert (yield first.call("chat.user.me"))["nick"] == "Gus"


@pytest.mark.parametrize("method", ["ticket", "wampcra"])
@pytest_twisted.inlineCallbacks
def test_wrong_password_and_unknown_user_look_the_same(world, method):
    """A wrong password and an unknown user are both refused with the same error."""
    yield world.register("ann")
    errors = []
    for authid, secret in (("ann", "wrong password"), ("nobody", "a long password")):
        with pytest.raises(ApplicationError) as info:
            yield world.connect(authmethods=[method], authid=authid, secret=secret)
        errors.append(info.value.error)
    assert errors[0] == errors[1] and errors[0] in ("wamp.error.not_authorized", "wamp.error.authentication_failed")


@pytest_twisted.inlineCallbacks
def test_identity_comes_from_the_router_not_the_request(world):
    """Passing a user name as an argument does not make a caller someone else."""
    ann = yield world.user("ann")
    eve = yield world.user("eve")
    message = yield ann.call("chat.message.send", "lobby", "ann's words")
    err = yield error_of(eve.call("chat.message.edit", "lobby", message["id"], "forged", details={"caller": 1}))
    assert err in ("wampchat.error.forbidden", "wampchat.error.invalid_argument")
    assert (yield eve.call("chat.message.history", "lobby"))["messages"] == [message]
    sent = yield eve.call("chat.message.send", "lobby", "who am I")
    assert sent["user"] == "eve"


@pytest_twisted.inlineCallbacks
def test_leaving_a_private_room_ends_its_events(world):
    """A subscription made while a member delivers nothing once the member has left the private room."""
    ann, bob, eve, _ = yield private_room(world)
    plans = yield world.listen(bob, "chat.room.plans.message")
    lobby = yield world.listen(bob, "chat.room.lobby.message")
    yield ann.call("chat.message.send", "plans", "while bob is in")
    yield plans.wait_for(1)
    yield bob.call("chat.room.leave", "plans")
    yield ann.call("chat.message.send", "plans", "after bob left")
    yield ann.call("chat.message.send", "lobby", "sentinel")
    yield lobby.wait_for(1)  # events from one publisher arrive in order: plans' would have come first
    assert [m["text"] for m in payloads(plans)] == ["while bob is in"]
    assert (yield error_of(bob.call("chat.message.history", "plans"))) == "wampchat.error.not_found"


CLASHING_ID = "guest_0badc0de"


@pytest_twisted.inlineCallbacks
def test_a_guest_drawing_the_id_of_a_guest_online_here_is_refused(world, monkeypatch):
    """Guest ids are 32 random bits: a new guest that draws the id of a guest online is refused (conflict,
    connect again) and never shares the first one's identity; the next draw joins."""
    monkeypatch.setattr(auth, "new_guest_id", lambda: CLASHING_ID)
    first = yield world.guest("Gus")
    with pytest.raises(ApplicationError) as info:
        yield world.guest("Kim")
    assert info.value.error == "wampchat.error.conflict"
    assert (yield first.call("chat.user.me"))["user"] == CLASHING_ID
    monkeypatch.undo()
    kim = yield world.guest("Kim")
    assert (yield kim.call("chat.user.me"))["user"] != CLASHING_ID


@pytest_twisted.inlineCallbacks
def test_a_guest_drawing_the_id_of_a_guest_online_on_another_node_is_refused(world, monkeypatch, db_url):
    """The same when the guest holding the id is online on another node (its row in the shared ``online``)."""
    def online_elsewhere(tx):
        tx.execute("INSERT INTO online (username, node, role, nick, nick_key) VALUES (?, 'othernode', 'guest', "
                   "'Far', 'far')", (CLASHING_ID,))

    engine = engine_for(db_url)
    conn = engine.connect()
    try:
        run_sync(engine, conn, online_elsewhere)
    finally:
        conn.close()
    monkeypatch.setattr(auth, "new_guest_id", lambda: CLASHING_ID)
    with pytest.raises(ApplicationError) as info:
        yield world.guest("Kim")
    assert info.value.error == "wampchat.error.conflict"
