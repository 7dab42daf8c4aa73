"""Limits that hold whatever the client does (the outside review's attacks, each reproduced).

- Whitespace padding counts: what is stored is what was checked.
- A user's send and reaction windows outlive their sessions: reconnecting buys nothing.
- Guests are counted per client address too, so fresh ``guest_...`` sessions buy nothing.
"""
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from chatkit import PASSWORD, ChatWorld, error_of, leave, make_world  # noqa: F401 (fixture)
from postgres import postgres  # noqa: F401 (fixture)

RATE_LIMITED = "wampchat.error.rate_limited"
INVALID = "wampchat.error.invalid_argument"


@pytest_twisted.inlineCallbacks
def test_whitespace_padding_counts_against_the_text_limit(make_world):
    """"x" padded past 4000 characters is refused, however much of it is whitespace; what is stored is
    exactly what was sent."""
    world = yield make_world()
    guest = yield world.guest("Pad")
    for padded in ("x" + " " * 1_000_000, " " * 4000 + "x", "x" + "\n" * 4000):
        assert (yield error_of(guest.call("chat.message.send", "lobby", padded))) == INVALID
    kept = "  indented\n" + "y" * 3980
    sent = yield guest.call("chat.message.send", "lobby", kept)
    page = yield guest.call("chat.message.history", "lobby")
    assert sent["text"] == kept and [m["text"] for m in page["messages"]] == [kept]
    assert (yield error_of(guest.call("chat.message.edit", "lobby", sent["id"], "z" + " " * 4000))) == INVALID


@pytest_twisted.inlineCallbacks
def test_the_send_rate_outlives_reconnecting(make_world):
    """A user at the limit who reconnects (last session gone, new one) is still refused, and told when to
    retry."""
    world = yield make_world(["--send-rate", "5"])
    ann = yield world.user("ann")
    for n in range(5):
        yield ann.call("chat.message.send", "lobby", f"m{n}")
    yield leave(ann)
    for _ in range(3):
        again = yield world.user("ann", register=False)
        try:
            yield again.call("chat.message.send", "lobby", "one more")
            raise AssertionError("a reconnected session was allowed past the send rate")
        except ApplicationError as e:
            assert e.error == RATE_LIMITED and 0 < e.kwargs["retry_after"] <= 10
        yield leave(again)


@pytest_twisted.inlineCallbacks
def test_the_reaction_rate_outlives_reconnecting(make_world):
    """Reactions are limited per user (60 per 10 s) across sessions too."""
    world = yield make_world()
    ann = yield world.user("ann")
    message = yield ann.call("chat.message.send", "lobby", "react to me")
    for n in range(60):
        yield ann.call("chat.message.react", "lobby", message["id"], "👍", on=n % 2 == 0)
    yield leave(ann)
    again = yield world.user("ann", register=False)
    assert (yield error_of(again.call("chat.message.react", "lobby", message["id"], "👍"))) == RATE_LIMITED


@pytest_twisted.inlineCallbacks
def test_fresh_guest_sessions_share_their_addresses_send_limit(make_world):
    """Every new guest is a new user, so guests' sends are also counted per client address."""
    world = yield make_world(["--guest-send-rate", "4", "--send-rate", "20"])
    sent = 0
    refused = None
    for n in range(6):
        guest = yield world.guest(f"fresh {n}")
        try:
            yield guest.call("chat.message.send", "lobby", f"spam {n}")
            sent += 1
        except ApplicationError as e:
            refused = e
        yield leave(guest)
    assert sent == 4
    assert refused.error == RATE_LIMITED and "guests at one address" in refused.args[0]
    ann = yield world.user("ann")
    yield ann.call("chat.message.send", "lobby", "accounts are counted per user, not per address")


@pytest_twisted.inlineCallbacks
def test_registrations_and_room_creations_are_counted_across_nodes(tmp_path, postgres):
    """Two nodes on one database share one limit: three nodes no longer allow three times the rate."""
    url = postgres.new_database()
    args = ["--register-rate", "3", "--create-rate", "2"]
    a = yield ChatWorld(tmp_path / "a", url, args).start()
    b = yield ChatWorld(tmp_path / "b", url, args).start()
    try:
        yield a.register("ann")
        yield a.register("bob")
        yield b.register("cid")
        guest = yield b.guest("Dee")
        refused = yield error_of(guest.call("chat.user.register", "dee", PASSWORD))
        assert refused == RATE_LIMITED
        ann_a = yield a.user("ann", register=False)
        ann_b = yield b.user("ann", register=False)
        yield ann_a.call("chat.room.create", "one")
        yield ann_b.call("chat.room.create", "two")
        assert (yield error_of(ann_a.call("chat.room.create", "three"))) == RATE_LIMITED
    finally:
        yield a.stop()
        yield b.stop()


@pytest_twisted.inlineCallbacks
def test_new_dm_rooms_are_limited_per_user_and_per_address(make_world):
    """Opening new DMs is limited per user and per client address (fresh guests buy nothing); opening one
    that exists is free, and chat.room.list pages so no list grows without bound."""
    world = yield make_world(["--dm-rate", "3", "--dm-address-rate", "5"])
    for name in ("ann", "bob", "cid", "dan", "eve", "fay"):
        yield world.register(name)
    spammer = yield world.guest("Spam")
    for name in ("ann", "bob", "cid"):
        yield spammer.call("chat.dm.open", name)
    assert (yield error_of(spammer.call("chat.dm.open", "dan"))) == RATE_LIMITED
    yield spammer.call("chat.dm.open", "ann")                      # exists: free
    fresh = yield world.guest("Spam 2")
    yield fresh.call("chat.dm.open", "ann")
    yield fresh.call("chat.dm.open", "bob")
    assert (yield error_of(fresh.call("chat.dm.open", "cid"))) == RATE_LIMITED   # the address's 5 are used
    rooms = yield spammer.call("chat.room.list", limit=2)
    rest = yield spammer.call("chat.room.list", after=rooms[-1]["id"], limit=10)
    every = yield spammer.call("chat.room.list")
    assert [r["id"] for r in rooms + rest] == [r["id"] for r in every] and len(every) == 4   # lobby and 3 DMs
