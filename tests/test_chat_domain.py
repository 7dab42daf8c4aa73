"""Pure chat-domain tests: argument checks, message ids, presence, typing, rate limits, and the SQLite store."""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import task

from wampchat.admin import add_user_command, list_users, main as admin_main
from wampchat.chat import model
from wampchat.chat.presence import Presence, SendRateLimit, TypingTimers
from wampchat.chat.store import ChatStore
from wampchat.router.credentials import make_credentials, verify_password


def _error_uri(fn, *args):
    with pytest.raises(ApplicationError) as info:
        fn(*args)
    return info.value.error


@pytest.mark.parametrize("value", [None, 5, "A", "x", "has space", "a" * 33, "ünï", "a.b", ["ab"]])
def test_bad_usernames_are_invalid(value):
    """Usernames outside ^[a-z0-9_]{2,32}$, or not strings, are invalid_argument."""
    assert _error_uri(model.check_username, value) == model.INVALID


@pytest.mark.parametrize("value", [None, 3, "", " ", "\n\t", "x" * 4001, b"bytes"])
def test_bad_texts_are_invalid(value):
    """Text must be a string of 1..4000 characters after stripping."""
    assert _error_uri(model.check_text, value) == model.INVALID


def test_text_is_kept_as_given():
    """Valid text, HTML included, is returned unchanged (never stripped or escaped)."""
    text = "  <script>alert(1)</script> & " + "x" * 3900
    assert model.check_text(text) is text


def test_room_ids_for_creation_exclude_dm_prefix_and_long_ids():
    """Created rooms are 2..64 of [a-z0-9_] and may not look like DMs."""
    assert model.check_room_id("a" * 64, creating=True) == "a" * 64
    assert _error_uri(model.check_room_id, "a" * 65, True) == model.INVALID
    assert _error_uri(model.check_room_id, "dm_ann_bob", True) == model.INVALID
    assert _error_uri(model.check_room_id, "chat.room", True) == model.INVALID


@pytest.mark.parametrize("value", [0, 201, -1, True, 1.5, "10"])
def test_bad_limits_are_invalid(value):
    """History limits are integers 1..200 (booleans are not numbers here)."""
    assert _error_uri(model.check_limit, value) == model.INVALID


def test_dm_room_id_is_order_independent():
    """Both users get the same DM id, names sorted."""
    assert model.dm_room_id("bob", "ann") == model.dm_room_id("ann", "bob") == "dm_ann_bob"


def test_message_ids_sort_in_acceptance_order_even_when_the_clock_steps_back():
    """Ids from one node are strictly increasing although the clock stands still or goes back."""
    clock = task.Clock()
    clock.advance(1_700_000_000)
    ids = model.MessageIds("n1", clock)
    made = [ids.next()[0] for _ in range(3)]
    clock.advance(-5)
    made += [ids.next()[0] for _ in range(3)]
    clock.advance(10)
    made.append(ids.next()[0])
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(model.MESSAGE_ID_RE.match(i) for i in made)


def test_message_ids_of_two_nodes_never_collide():
    """Two nodes at the same millisecond make different ids."""
    clock = task.Clock()
    a, b = model.MessageIds("a", clock), model.MessageIds("b", clock)
    assert a.next()[0] != b.next()[0]


def test_presence_goes_offline_only_with_the_last_session():
    """A user with two sessions stays online until both have left."""
    presence = Presence()
    assert presence.joined(1, "ann", "user", "Ann") is True
    assert presence.joined(2, "ann", "user", "Ann") is False
    assert presence.left(1)[3] is False
    assert presence.is_online("ann")
    assert presence.left(2) == ("ann", "user", "Ann", True)
    assert not presence.is_online("ann")
    assert presence.left(2) is None


def test_nick_taken_ignores_case_and_the_same_user():
    """Nick clashes are case-insensitive, and a user never clashes with itself."""
    presence = Presence()
    presence.joined(1, "guest_1", "guest", "Ann")
    assert presence.nick_taken("aNN", "guest_2")
    assert not presence.nick_taken("ann", "guest_1")


def test_typing_expires_by_itself_and_restarts_on_repeat():
    """A typing state ends after the timeout; a repeated start pushes the end back."""
    clock, expired = task.Clock(), []
    timers = TypingTimers(clock, 6.0, lambda *a: expired.append(a))
    timers.start("lobby", "ann", "Ann")
    clock.advance(5)
    timers.start("lobby", "ann", "Ann")
    clock.advance(5)
    assert expired == []
    clock.advance(1.5)
    assert expired == [("lobby", "ann", "Ann")]
    assert timers.stop("lobby", "ann") is False


def test_send_rate_limit_is_a_sliding_window_per_session():
    """N sends per 10 s per session; the window slides and sessions are independent."""
    clock = task.Clock()
    limit = SendRateLimit(clock, 2)
    assert limit.allow(1) and limit.allow(1)
    assert not limit.allow(1)
    assert limit.allow(2)
    clock.advance(10.01)
    assert limit.allow(1)


# -- the store on a real SQLite file ------------------------------------------------

@pytest.fixture
def store(tmp_path):
    """A ChatStore on a fresh SQLite file, closed after the test."""
    from twisted.internet import reactor

    s = ChatStore(str(tmp_path / "chat.sqlite"), reactor)
    yield s
    s.close()


def _ids(page):
    return [m["id"] for m in page["messages"]]


@pytest_twisted.inlineCallbacks
def test_history_pages_before_and_after_with_more(store):
    """History pages backwards with before, forwards with after, oldest first, and says when more exist."""
    yield store.create_room("r1", "R", False, "ann", 1)
    ids = [f"{1000 + i:013d}0000n" for i in range(7)]
    for i, msg_id in enumerate(ids):
        yield store.add_message(msg_id, "r1", "ann", "Ann", f"m{i}", 1000 + i, None)
    newest = yield store.history("r1", limit=3)
    assert _ids(newest) == ids[4:] and newest["more"] is True
    older = yield store.history("r1", before=ids[4], limit=3)
    assert _ids(older) == ids[1:4] and older["more"] is True
    oldest = yield store.history("r1", before=ids[1], limit=3)
    assert _ids(oldest) == ids[:1] and oldest["more"] is False
    caught_up = yield store.history("r1", after=ids[2], limit=3)
    assert _ids(caught_up) == ids[3:6] and caught_up["more"] is True
    rest = yield store.history("r1", after=ids[5], limit=3)
    assert _ids(rest) == ids[6:] and rest["more"] is False


@pytest_twisted.inlineCallbacks
def test_client_msg_id_stores_a_message_once(store):
    """A second add with the same client_msg_id returns the first message and inserts nothing; the author joins once."""
    yield store.create_room("r1", "R", False, "ann", 1)
    first, created, joined = yield store.add_message("00000000010000000n", "r1", "ann", "Ann", "hi", 1, "c1")
    again, created_again, joined_again = yield store.add_message("00000000020000000n", "r1", "ann", "Ann", "hi", 2,
                                                                 "c1")
    assert created and not created_again and again == first
    assert joined and not joined_again
    _, members = yield store.load_rooms()
    assert members["r1"] == {"ann"}
    page = yield store.history("r1")
    assert _ids(page) == [first["id"]]


@pytest_twisted.inlineCallbacks
def test_read_markers_only_move_forward_and_drive_unread(store):
    """Unread counts other users' messages after the marker, and an older marker does not move it back."""
    yield store.create_room("r1", "R", False, "ann", 1)
    ids = [f"{1000 + i:013d}0000n" for i in range(4)]
    for i, msg_id in enumerate(ids):
        yield store.add_message(msg_id, "r1", "bob" if i else "ann", "x", "t", i, None)
    summaries = yield store.summaries(["r1"], "ann")
    assert summaries["r1"][0] == 3 and summaries["r1"][1]["id"] == ids[-1]
    yield store.mark_read("r1", "ann", ids[2])
    assert (yield store.mark_read("r1", "ann", ids[1])) == ids[2]
    summaries = yield store.summaries(["r1"], "ann")
    assert summaries["r1"][0] == 1


@pytest_twisted.inlineCallbacks
def test_rooms_members_and_users_survive_reopening(tmp_path):
    """Everything written is there again after closing and reopening the file."""
    from twisted.internet import reactor

    path = str(tmp_path / "chat.sqlite")
    store = ChatStore(path, reactor)
    yield store.create_room("r1", "R", True, "ann", 1, ["ann", "bob"])
    yield store.add_message("00000000010000000n", "r1", "ann", "Ann", "kept", 1, None)
    yield store.add_user(make_credentials("ann", "a long password", "admin"), "Ann", 1)
    store.close()
    store = ChatStore(path, reactor)
    try:
        rooms, members = yield store.load_rooms()
        page = yield store.history("r1")
        creds = yield store.get_credentials("ann")
    finally:
        store.close()
    assert rooms["r1"]["private"] is True and members["r1"] == {"ann", "bob"}
    assert [m["text"] for m in page["messages"]] == ["kept"]
    assert creds.role == "admin" and verify_password("a long password", creds.password_hash)
    assert "a long password" not in open(path, "rb").read().decode("latin-1")


def test_admin_command_adds_a_user_once(tmp_path):
    """wampchat-admin adduser stores a hashed user, refuses a duplicate and a short password."""
    import io

    db = str(tmp_path / "admin.sqlite")
    out, err = io.StringIO(), io.StringIO()
    status = admin_main(["--db", db, "adduser", "root", "--role", "admin"],
                        stdin=io.StringIO("correct horse\n"), stdout=out, stderr=err)
    assert status == 0 and "added root" in out.getvalue()
    assert list_users(db) == [("root", "admin", "root")]
    assert add_user_command(db, "root", "user", None, "another password", 1) == "user 'root' exists already"
    assert "password" in add_user_command(db, "bob", "user", None, "short", 1)
    assert "username" in add_user_command(db, "Bad Name", "user", None, "long enough", 1)
    assert list_users(db) == [("root", "admin", "root")]
