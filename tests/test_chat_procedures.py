"""Each chat procedure and topic of API.md §4–5 over real sockets, and bad input that must change nothing."""
import pytest
import pytest_twisted
from twisted.internet import defer

from chatkit import PASSWORD, error_of, payloads, world, make_world  # noqa: F401 (fixtures)

INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"


@pytest_twisted.inlineCallbacks
def test_register_me_and_both_logins(world):
    """A registered user logs in with ticket and wampcra and chat.user.me tells who it is; a taken name conflicts."""
    guest = yield world.guest("Gus")
    user = yield guest.call("chat.user.register", "ann", PASSWORD, display_name="Ann A.")
    assert user == {"user": "ann", "nick": "Ann A.", "role": "user"}
    assert (yield error_of(guest.call("chat.user.register", "ann", PASSWORD))) == "wampchat.error.conflict"
    for method in ("ticket", "wampcra"):
        session = yield world.user("ann", method=method, register=False)
        assert (yield session.call("chat.user.me")) == user


@pytest_twisted.inlineCallbacks
def test_lobby_exists_and_rooms_are_announced(world):
    """The lobby exists on first start; a new public room is announced on chat.rooms, a private one is not."""
    ann = yield world.user("ann")
    rooms = yield ann.call("chat.room.list")
    assert [r["id"] for r in rooms] == ["lobby"] and rooms[0]["private"] is False
    announced = yield world.listen(ann, "chat.rooms")
    yield ann.call("chat.room.create", "secret", private=True)
    room = yield ann.call("chat.room.create", "games", title="Games")
    yield announced.wait_for(1)
    assert payloads(announced) == [{"event": "created", "room": room}]
    assert (yield error_of(ann.call("chat.room.create", "games"))) == "wampchat.error.conflict"
    assert (yield error_of(ann.call("chat.room.create", "lobby"))) == "wampchat.error.conflict"


@pytest_twisted.inlineCallbacks
def test_join_returns_room_members_and_newest_50(make_world):
    """chat.room.join gives the room, its members and the newest 50 messages oldest first."""
    world = yield make_world(["--send-rate", "1000"])
    ann = yield world.user("ann")
    sent = []
    for i in range(55):
        sent.append((yield ann.call("chat.message.send", "lobby", f"m{i}")))
    bob = yield world.user("bob")
    presence = yield world.listen(ann, "chat.room.lobby.presence")
    joined = yield bob.call("chat.room.join", "lobby")
    assert joined["room"]["id"] == "lobby"
    assert joined["history"] == sent[5:]
    assert [m["user"] for m in joined["members"]] == ["ann", "bob"]
    yield presence.wait_for(1)
    assert payloads(presence) == [{"user": "bob", "nick": "bob", "event": "join"}]
    older = yield bob.call("chat.message.history", "lobby", before=joined["history"][0]["id"])
    assert older == {"messages": sent[:5], "more": False}


@pytest_twisted.inlineCallbacks
def test_send_is_idempotent_by_client_msg_id(world):
    """A retried send with the same client_msg_id returns the same message, stores and publishes it once."""
    ann = yield world.user("ann")
    events = yield world.listen(ann, "chat.room.lobby.message")
    first = yield ann.call("chat.message.send", "lobby", "once", client_msg_id="c-1")
    again = yield ann.call("chat.message.send", "lobby", "once", client_msg_id="c-1")
    both = yield defer.gatherResults([ann.call("chat.message.send", "lobby", "twice?", client_msg_id="c-2")
                                      for _ in range(2)])
    assert first == again and first["client_msg_id"] == "c-1"
    assert both[0] == both[1]
    page = yield ann.call("chat.message.history", "lobby")
    assert [m["text"] for m in page["messages"]] == ["once", "twice?"]
    yield events.wait_for(2)
    assert [m["id"] for m in payloads(events)] == [first["id"], both[0]["id"]]


@pytest_twisted.inlineCallbacks
def test_message_fields_and_html_kept_as_text(world):
    """A Message has the documented fields; HTML is stored and returned exactly as sent."""
    ann = yield world.user("ann")
    text = "<script>alert('x')</script> <b>bold</b> &amp;"
    msg = yield ann.call("chat.message.send", "lobby", text)
    assert set(msg) == {"id", "room", "user", "nick", "text", "ts"}
    assert (msg["room"], msg["user"], msg["nick"], msg["text"]) == ("lobby", "ann", "ann", text)
    assert isinstance(msg["id"], str) and isinstance(msg["ts"], int) and msg["ts"] > 1_600_000_000_000
    assert (yield ann.call("chat.message.history", "lobby"))["messages"] == [msg]


@pytest_twisted.inlineCallbacks
def test_edit_and_delete_publish_events(world):
    """Edit publishes the new Message with edited set; delete publishes {id, room} and leaves a marker."""
    ann = yield world.user("ann")
    edits = yield world.listen(ann, "chat.room.lobby.edit")
    deletes = yield world.listen(ann, "chat.room.lobby.delete")
    msg = yield ann.call("chat.message.send", "lobby", "typo")
    edited = yield ann.call("chat.message.edit", "lobby", msg["id"], "fixed")
    assert edited["text"] == "fixed" and edited["id"] == msg["id"] and isinstance(edited["edited"], int)
    assert (yield ann.call("chat.message.delete", "lobby", msg["id"])) is None
    yield edits.wait_for(1)
    yield deletes.wait_for(1)
    assert payloads(edits) == [edited]
    assert payloads(deletes) == [{"id": msg["id"], "room": "lobby"}]
    page = yield ann.call("chat.message.history", "lobby")
    assert page["messages"][0]["deleted"] is True and page["messages"][0]["text"] == ""
    assert (yield error_of(ann.call("chat.message.edit", "lobby", msg["id"], "again"))) == NOT_FOUND
    assert (yield error_of(ann.call("chat.message.delete", "lobby", msg["id"]))) == NOT_FOUND


@pytest_twisted.inlineCallbacks
def test_read_markers_drive_unread_counts(world):
    """chat.read moves the caller's marker, publishes it, and room list unread counts follow."""
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    reads = yield world.listen(ann, "chat.room.lobby.read")
    sent = []
    for i in range(3):
        sent.append((yield ann.call("chat.message.send", "lobby", f"m{i}")))
    lobby = (yield bob.call("chat.room.list"))[0]
    assert lobby["unread"] == 3 and lobby["last_message"] == sent[-1]
    assert (yield ann.call("chat.room.list"))[0]["unread"] == 0
    assert (yield bob.call("chat.read", "lobby", sent[1]["id"])) is None
    yield reads.wait_for(1)
    assert payloads(reads) == [{"user": "bob", "message_id": sent[1]["id"]}]
    assert (yield bob.call("chat.room.list"))[0]["unread"] == 1
    yield bob.call("chat.read", "lobby", sent[0]["id"])  # never moves back
    assert (yield bob.call("chat.room.list"))[0]["unread"] == 1


@pytest_twisted.inlineCallbacks
def test_leave_then_rejoin(world):
    """Leaving a room removes membership (presence leave); leaving twice is not_found."""
    ann = yield world.user("ann")
    yield ann.call("chat.room.join", "lobby")
    assert (yield ann.call("chat.room.leave", "lobby")) is None
    assert "ann" not in [m["user"] for m in (yield ann.call("chat.room.members", "lobby"))]
    assert (yield error_of(ann.call("chat.room.leave", "lobby"))) == NOT_FOUND
    yield ann.call("chat.room.join", "lobby")
    assert "ann" in [m["user"] for m in (yield ann.call("chat.room.members", "lobby"))]


@pytest_twisted.inlineCallbacks
def test_guests_can_open_dms_with_users(world):
    """A guest may open a DM with a registered user, who is told about it."""
    yield world.register("ann")
    ann = yield world.user("ann", register=False)
    notify = yield world.listen(ann, "chat.user.ann.notify")
    guest = yield world.guest("Gus")
    me = yield guest.call("chat.user.me")
    room = yield guest.call("chat.dm.open", "ann")
    assert room["id"] == f"dm_3_ann_{me['user']}"   # a name with "_": the first name's length says where it ends
    yield notify.wait_for(1)
    assert (yield error_of(guest.call("chat.dm.open", "nobody"))) == NOT_FOUND
    assert (yield error_of(guest.call("chat.dm.open", me["user"]))) == INVALID


@pytest_twisted.inlineCallbacks
def test_send_rate_limit(make_world):
    """Past --send-rate messages in 10 s a user gets rate_limited (in every session) and nothing is stored;
    other users are unaffected."""
    world = yield make_world(["--send-rate", "3"])
    ann = yield world.user("ann")
    for i in range(3):
        yield ann.call("chat.message.send", "lobby", f"m{i}")
    assert (yield error_of(ann.call("chat.message.send", "lobby", "too many"))) == "wampchat.error.rate_limited"
    second_tab = yield world.user("ann", register=False)
    assert (yield error_of(second_tab.call("chat.message.send", "lobby", "nor here"))) == "wampchat.error.rate_limited"
    bob = yield world.user("bob")
    yield bob.call("chat.message.send", "lobby", "from someone else")
    page = yield ann.call("chat.message.history", "lobby")
    assert [m["text"] for m in page["messages"]] == ["m0", "m1", "m2", "from someone else"]


# -- bad input: the documented error and no change ----------------------------------------

BAD_CALLS = [
    ("chat.message.send", [], {}, INVALID),
    ("chat.message.send", ["lobby"], {}, INVALID),
    ("chat.message.send", ["lobby", 42], {}, INVALID),
    ("chat.message.send", ["lobby", None], {}, INVALID),
    ("chat.message.send", ["lobby", "   "], {}, INVALID),
    ("chat.message.send", ["lobby", "x" * 4001], {}, INVALID),
    ("chat.message.send", ["lobby", "hi"], {"client_msg_id": 7}, INVALID),
    ("chat.message.send", ["lobby", "hi"], {"colour": "red"}, INVALID),
    ("chat.message.send", ["lobby", "hi", "c", "extra"], {}, INVALID),
    ("chat.message.send", ["lobby", "hi"], {"room_id": "lobby"}, INVALID),
    ("chat.message.send", [["lobby"], "hi"], {}, INVALID),
    ("chat.message.send", ["Lobby!", "hi"], {}, INVALID),
    ("chat.message.send", ["nosuchroom", "hi"], {}, NOT_FOUND),
    ("chat.message.history", ["nosuchroom"], {}, NOT_FOUND),
    ("chat.message.history", ["lobby"], {"limit": 0}, INVALID),
    ("chat.message.history", ["lobby"], {"limit": 201}, INVALID),
    ("chat.message.history", ["lobby"], {"limit": "10"}, INVALID),
    ("chat.message.history", ["lobby"], {"before": 12}, INVALID),
    ("chat.message.history", ["lobby"], {"after": "' OR 1=1 --"}, INVALID),
    ("chat.message.history", ["lobby"], {"changed_after": -1}, INVALID),
    ("chat.message.history", ["lobby"], {"changed_after": "0"}, INVALID),
    ("chat.message.history", ["lobby"], {"changed_after": True}, INVALID),
    ("chat.message.history", ["lobby"], {"changed_after": 0, "after": "00000000000000000zz"}, INVALID),
    ("chat.message.history", ["other"], {"changed_after": 0}, NOT_FOUND),
    ("chat.message.search", [""], {}, INVALID),
    ("chat.message.search", ["  ?! "], {}, INVALID),
    ("chat.message.search", ['"never closed'], {}, INVALID),
    ("chat.message.search", ["*"], {}, INVALID),
    ("chat.message.search", ["a*"], {}, INVALID),
    ("chat.message.search", [42], {}, INVALID),
    ("chat.message.search", ["x" * 501], {}, INVALID),
    ("chat.message.search", [" ".join(["w"] * 17)], {}, INVALID),
    ("chat.message.search", ["original"], {"limit": 101}, INVALID),
    ("chat.message.search", ["original"], {"limit": 0}, INVALID),
    ("chat.message.search", ["original"], {"before": "' OR 1=1 --"}, INVALID),
    ("chat.message.search", ["original"], {"room": "other"}, NOT_FOUND),
    ("chat.message.search", ["original"], {"room": "Bad Room"}, INVALID),
    ("chat.message.search", [], {}, INVALID),
    ("chat.message.react", ["lobby", "{id}", ""], {}, INVALID),
    ("chat.message.react", ["lobby", "{id}", "x" * 17], {}, INVALID),
    ("chat.message.react", ["lobby", "{id}", "a b"], {}, INVALID),
    ("chat.message.react", ["lobby", "{id}", "\n"], {}, INVALID),
    ("chat.message.react", ["lobby", "{id}", 1], {}, INVALID),
    ("chat.message.react", ["lobby", "{id}", "👍"], {"on": "yes"}, INVALID),
    ("chat.message.react", ["lobby", "00000000000000000zz", "👍"], {}, NOT_FOUND),
    ("chat.message.react", ["other", "{id}", "👍"], {}, NOT_FOUND),
    ("chat.message.react", ["lobby", "{id}"], {}, INVALID),
    ("chat.message.edit", ["lobby", "00000000000000000zz", "x"], {}, NOT_FOUND),
    ("chat.message.edit", ["lobby", 5, "x"], {}, INVALID),
    ("chat.message.edit", ["lobby", "{id}", ""], {}, INVALID),
    ("chat.message.edit", ["lobby", "{id}", "y" * 4001], {}, INVALID),
    ("chat.message.edit", ["nosuchroom", "{id}", "x"], {}, NOT_FOUND),
    ("chat.message.delete", ["lobby", "00000000000000000zz"], {}, NOT_FOUND),
    ("chat.message.delete", ["lobby"], {}, INVALID),
    ("chat.message.delete", ["other", "{id}"], {}, NOT_FOUND),
    ("chat.room.create", ["Bad Room"], {}, INVALID),
    ("chat.room.create", ["x" * 65], {}, INVALID),
    ("chat.room.create", ["dm_fake_room"], {}, INVALID),
    ("chat.room.create", ["fine"], {"private": "yes"}, INVALID),
    ("chat.room.create", ["fine"], {"title": 3}, INVALID),
    ("chat.room.create", ["fine"], {"title": "t" * 101}, INVALID),
    ("chat.room.create", [], {}, INVALID),
    ("chat.room.join", [None], {}, INVALID),
    ("chat.room.join", ["nosuchroom"], {}, NOT_FOUND),
    ("chat.room.members", ["nosuchroom"], {}, NOT_FOUND),
    ("chat.room.invite", ["lobby", "bob"], {}, INVALID),
    ("chat.room.invite", ["mine", "nobody"], {}, NOT_FOUND),
    ("chat.room.invite", ["mine", "Not A Name"], {}, INVALID),
    ("chat.dm.open", [], {}, INVALID),
    ("chat.dm.open", ["ann"], {}, INVALID),
    ("chat.dm.open", [{"user": "bob"}], {}, INVALID),
    ("chat.typing", ["lobby", "yes"], {}, INVALID),
    ("chat.typing", ["lobby"], {}, INVALID),
    ("chat.typing", ["nosuchroom", True], {}, NOT_FOUND),
    ("chat.read", ["lobby", "00000000000000000zz"], {}, NOT_FOUND),
    ("chat.read", ["lobby", None], {}, INVALID),
    ("chat.user.register", ["bob2"], {}, INVALID),
    ("chat.user.register", ["bob2", "short"], {}, INVALID),
    ("chat.user.register", ["Bob Two", PASSWORD], {}, INVALID),
    ("chat.user.register", ["guest_12345678", PASSWORD], {}, INVALID),
    ("chat.user.register", ["bob2", PASSWORD], {"display_name": "<b>x</b>"}, INVALID),
    ("chat.user.register", ["bob2", 12345678], {}, INVALID),
]


@defer.inlineCallbacks
def snapshot(session):
    """Everything a bad call could have changed, as the caller sees it."""
    rooms = yield session.call("chat.room.list")
    result = {"rooms": rooms}
    for room in rooms:
        history = yield session.call("chat.message.history", room["id"], limit=200)
        members = yield session.call("chat.room.members", room["id"])
        result[room["id"]] = (history, members)
    return result


@pytest.mark.parametrize("procedure,args,kwargs,error", BAD_CALLS,
                         ids=[f"{p}-{i}" for i, (p, *_rest) in enumerate(BAD_CALLS)])
@pytest_twisted.inlineCallbacks
def test_bad_input_gets_the_error_and_changes_nothing(world, procedure, args, kwargs, error):
    """A malformed or unknown-target call fails with the documented error URI and leaves the state unchanged."""
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "mine", private=True)
    yield bob.call("chat.room.create", "other", private=True)
    mine = yield ann.call("chat.message.send", "lobby", "original")
    args = [mine["id"] if a == "{id}" else a for a in args]
    events = yield world.listen(ann, "chat.room.lobby.", match="prefix")
    before = yield snapshot(ann)
    assert (yield error_of(ann.call(procedure, *args, **kwargs))) == error
    assert (yield snapshot(ann)) == before
    assert events.events == []
    assert (yield ann.call("chat.user.me"))["user"] == "ann"


@pytest_twisted.inlineCallbacks
def test_registration_is_rate_limited_per_address_and_room_creation_per_user(make_world):
    """Past --register-rate accounts from one address, or --create-rate rooms by one user, in an hour, the
    call is rate_limited and nothing is made; someone else is not affected."""
    world = yield make_world(["--register-rate", "2", "--create-rate", "2"])
    guest = yield world.guest("Registrar")
    yield guest.call("chat.user.register", "one", PASSWORD)
    yield guest.call("chat.user.register", "two", PASSWORD)
    assert (yield error_of(guest.call("chat.user.register", "three", PASSWORD))) == "wampchat.error.rate_limited"
    other_tab = yield world.guest("Another")
    assert (yield error_of(other_tab.call("chat.user.register", "four", PASSWORD))) == "wampchat.error.rate_limited"
    one = yield world.user("one", register=False)
    yield one.call("chat.room.create", "r1")
    yield one.call("chat.room.create", "r2")
    assert (yield error_of(one.call("chat.room.create", "r3"))) == "wampchat.error.rate_limited"
    two = yield world.user("two", register=False)
    yield two.call("chat.room.create", "r4")
    rooms = [r["id"] for r in (yield one.call("chat.room.list"))]
    assert "r3" not in rooms and {"r1", "r2", "r4"} <= set(rooms)
