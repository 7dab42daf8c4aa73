"""API §8 self-service accounts over real sockets, on both stores: chat.user.update, change_password, export
and delete, with every refusal."""
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from chatkit import PASSWORD, error_of, world  # noqa: F401 (fixtures)

INVALID = "wampchat.error.invalid_argument"
FORBIDDEN = "wampchat.error.forbidden"
CONFLICT = "wampchat.error.conflict"
RATE_LIMITED = "wampchat.error.rate_limited"
NEW_PASSWORD = "another long password"


@defer.inlineCallbacks
def login_refusal(world, username, method, password):
    """The ABORT reason a login is refused with (fails the test if it is let in)."""
    try:
        yield world.connect(authmethods=[method], authid=username, secret=password)
    except ApplicationError as e:
        return e.error
    raise AssertionError(f"{username} logged in with {method}")


# -- chat.user.update -------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_update_changes_the_display_name_shown_from_then_on(world):
    ann = yield world.user("ann")
    assert (yield ann.call("chat.user.update", display_name="  Ann   A. ")) == \
        {"user": "ann", "nick": "Ann A.", "role": "user"}
    assert (yield ann.call("chat.user.me"))["nick"] == "Ann A."
    yield ann.call("chat.room.join", "lobby")
    sent = yield ann.call("chat.message.send", "lobby", "hello")
    assert sent["nick"] == "Ann A."
    assert (yield ann.call("chat.user.update", display_name="ann"))["nick"] == "ann"   # her own name is hers


@pytest_twisted.inlineCallbacks
def test_update_refuses_bad_and_lookalike_names_and_guests(world):
    ann = yield world.user("ann")
    yield world.user("bob")
    yield world.guest("Gus")
    for bad in ("", " ", "x" * 65, 42, None, "<b>x</b>", "a\u202eb"):
        assert (yield error_of(ann.call("chat.user.update", display_name=bad))) == INVALID, bad
    for taken in ("bob", "BOB", "\uff42\uff4f\uff42", "Gus", "gus"):   # a username, lookalikes, an online guest
        assert (yield error_of(ann.call("chat.user.update", display_name=taken))) == CONFLICT, taken
    yield ann.call("chat.user.update", display_name="Queen Ann")
    bob = yield world.user("bob", register=False)
    assert (yield error_of(bob.call("chat.user.update", display_name="queen ann"))) == CONFLICT
    guest = yield world.guest("Gil")
    assert (yield error_of(guest.call("chat.user.update", display_name="Gilbert"))) == FORBIDDEN
    assert (yield ann.call("chat.user.me"))["nick"] == "Queen Ann"


# -- chat.user.change_password ---------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_change_password_ends_the_other_sessions_and_changes_both_secrets(world):
    ann = yield world.user("ann")
    other_ticket = yield world.user("ann", register=False)
    other_cra = yield world.user("ann", method="wampcra", register=False)
    assert (yield ann.call("chat.user.change_password", PASSWORD, NEW_PASSWORD)) is None
    for other in (other_ticket, other_cra):
        details = yield other.left
        assert details.reason == "wampchat.close.password_changed"
    assert (yield ann.call("chat.user.me"))["user"] == "ann"        # the caller's session stays
    for method in ("ticket", "wampcra"):
        assert (yield login_refusal(world, "ann", method, PASSWORD)) == "wamp.error.not_authorized"
        session = yield world.user("ann", method=method, register=False, password=NEW_PASSWORD)
        assert (yield session.call("chat.user.me"))["user"] == "ann"


@pytest_twisted.inlineCallbacks
def test_change_password_refusals_and_its_rate_limit(world):
    ann = yield world.user("ann")
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.user.change_password", PASSWORD, NEW_PASSWORD))) == FORBIDDEN
    assert (yield error_of(ann.call("chat.user.change_password", PASSWORD, "short"))) == INVALID
    assert (yield error_of(ann.call("chat.user.change_password", 12345678, NEW_PASSWORD))) == INVALID
    for _ in range(5):
        assert (yield error_of(ann.call("chat.user.change_password", "wrong password", NEW_PASSWORD))) == FORBIDDEN
    # the right password is refused too now: guessing is slowed per account, whatever the guesses
    assert (yield error_of(ann.call("chat.user.change_password", PASSWORD, NEW_PASSWORD))) == RATE_LIMITED
    session = yield world.user("ann", register=False)      # the password did not change
    assert (yield session.call("chat.user.me"))["user"] == "ann"


# -- chat.user.export ------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_export_pages_through_every_message_the_caller_wrote(world):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "games", title="Games")
    yield ann.call("chat.room.join", "lobby")
    yield bob.call("chat.room.join", "lobby")
    written = []
    for n in range(5):
        written.append((yield ann.call("chat.message.send", "lobby" if n % 2 else "games", f"ann {n}"))["id"])
        yield bob.call("chat.message.send", "lobby", f"bob {n}")
    first = yield ann.call("chat.user.export", limit=3)
    assert first["user"] == {"user": "ann", "nick": "ann", "role": "user"}
    assert sorted(r["id"] for r in first["rooms"]) == ["games", "lobby"] and first["rooms_more"] is False
    assert first["more"] is True
    rest = yield ann.call("chat.user.export", before=first["messages"][-1]["id"], limit=3)
    assert rest["more"] is False
    got = first["messages"] + rest["messages"]
    assert [m["id"] for m in got] == sorted(written, reverse=True)
    assert {m["text"] for m in got} == {f"ann {n}" for n in range(5)}
    assert all(m["user"] == "ann" for m in got)
    for bad in ({"limit": 0}, {"limit": 201}, {"limit": True}, {"before": "nope"}, {"before": 5}):
        assert (yield error_of(ann.call("chat.user.export", **bad))) == INVALID, bad
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.user.export"))) == FORBIDDEN


# -- chat.user.delete -------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_delete_ends_sessions_keeps_messages_and_the_name(world):
    ann = yield world.user("ann")
    other = yield world.user("ann", method="wampcra", register=False)
    bob = yield world.user("bob")
    yield ann.call("chat.user.update", display_name="Ann A.")
    yield ann.call("chat.room.join", "lobby")
    yield bob.call("chat.room.join", "lobby")
    sent = yield ann.call("chat.message.send", "lobby", "goodbye all")
    assert (yield error_of(ann.call("chat.user.delete", "wrong password"))) == FORBIDDEN
    assert (yield ann.call("chat.user.delete", PASSWORD)) is None
    for session in (ann, other):
        details = yield session.left
        assert details.reason == "wampchat.close.account_deleted"
    for method in ("ticket", "wampcra"):
        assert (yield login_refusal(world, "ann", method, PASSWORD)) == "wamp.error.not_authorized"
    history = yield bob.call("chat.message.history", "lobby")
    kept = [m for m in history["messages"] if m["id"] == sent["id"]]
    assert kept and kept[0]["text"] == "goodbye all" and kept[0]["nick"] == "Deleted user"
    members = yield bob.call("chat.room.members", "lobby")
    assert "ann" not in [m["user"] for m in (members["members"] if isinstance(members, dict) else members)]
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.user.register", "ann", PASSWORD))) == CONFLICT
    # nobody may pass for a deleted account; its old display name is free again, its username never
    assert (yield error_of(guest.call("chat.user.register", "anna", PASSWORD, display_name="Deleted User"))) == CONFLICT
    assert (yield guest.call("chat.user.register", "anna", PASSWORD, display_name="Ann A."))["nick"] == "Ann A."
    assert (yield error_of(guest.call("chat.user.delete", PASSWORD))) == FORBIDDEN
