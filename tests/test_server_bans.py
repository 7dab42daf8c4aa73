"""Server bans over real sockets, on both stores (API §8): chat.admin.ban, unban and bans: admin only, the
user's sessions end, their logins are refused with ABORT wampchat.error.banned, and the audit log has it all."""
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from chatkit import PASSWORD, error_of, world  # noqa: F401 (fixtures)
from helpers import poll_until
from postgres import postgres  # noqa: F401 (fixture)

BANNED = "wampchat.error.banned"
FORBIDDEN = "wampchat.error.forbidden"
INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"


@defer.inlineCallbacks
def admin(world, name="root"):
    world.add_admin(name)
    session = yield world.user(name, register=False)
    return session


@defer.inlineCallbacks
def login_refusal(world, **login):
    """The ABORT a login is refused with (fails the test if it is let in): the ApplicationError."""
    try:
        yield world.connect(**login)
    except ApplicationError as e:
        return e
    raise AssertionError(f"{login} logged in")


def account(username, method="ticket"):
    return {"authmethods": [method], "authid": username, "secret": PASSWORD}


def guest(nick):
    return {"authmethods": ["anonymous"], "authextra": {"nick": nick}}


@defer.inlineCallbacks
def server_actions(session):
    """The server-wide audit entries (action, actor, target), oldest first."""
    entries = (yield session.call("chat.admin.audit"))["entries"]
    return [(e["action"], e["actor"], e.get("target")) for e in reversed(entries) if e.get("room") is None]


@pytest_twisted.inlineCallbacks
def test_only_an_admin_bans_and_bad_arguments_are_refused(world):
    root = yield admin(world)
    ann = yield world.user("ann")
    gus = yield world.guest("Gus")
    yield world.register("bob")
    for session in (ann, gus):
        assert (yield error_of(session.call("chat.admin.ban", "bob"))) == FORBIDDEN
        assert (yield error_of(session.call("chat.admin.unban", "bob"))) == FORBIDDEN
        assert (yield error_of(session.call("chat.admin.bans"))) == FORBIDDEN
    assert (yield error_of(root.call("chat.admin.ban", "root"))) == INVALID       # oneself
    assert (yield error_of(root.call("chat.admin.ban", "nobody"))) == NOT_FOUND
    assert (yield error_of(root.call("chat.admin.unban", "bob"))) == NOT_FOUND    # not banned
    for bad in ((42,), ("Not A Name",), (None,)):
        assert (yield error_of(root.call("chat.admin.ban", *bad))) == INVALID, bad
    for bad in ({"reason": "x" * 501}, {"reason": 42}, {"duration": 0}, {"duration": -5}, {"duration": True},
                {"duration": "60"}):
        assert (yield error_of(root.call("chat.admin.ban", "bob", **bad))) == INVALID, bad
    assert (yield root.call("chat.admin.bans")) == []
    assert (yield world.user("bob", register=False)).is_attached()   # none of that banned bob


@pytest_twisted.inlineCallbacks
def test_a_ban_ends_the_sessions_refuses_logins_until_unbanned_and_is_audited(world):
    root = yield admin(world)
    ann = yield world.user("ann")
    other = yield world.user("ann", method="wampcra", register=False)
    bob = yield world.user("bob")
    assert (yield root.call("chat.admin.ban", "ann", reason="spam links")) is None
    for session in (ann, other):
        details = yield session.left
        assert details.reason == BANNED
    assert bob.is_attached() and (yield bob.call("chat.user.me"))["user"] == "bob"   # nobody else
    for method in ("ticket", "wampcra"):
        refused = yield login_refusal(world, **account("ann", method))
        assert refused.error == BANNED and "spam links" in str(refused), str(refused)
    wrong = yield login_refusal(world, authmethods=["ticket"], authid="ann", secret="not the password")
    assert wrong.error == "wamp.error.not_authorized"   # the ban is told only to whoever knows the password
    assert (yield root.call("chat.admin.bans")) == [{"user": "ann", "by": "root", "reason": "spam links",
                                                     "until": None}]
    assert (yield root.call("chat.admin.unban", "ann")) is None
    assert (yield root.call("chat.admin.bans")) == []
    back = yield world.user("ann", register=False)
    assert (yield back.call("chat.user.me"))["user"] == "ann"
    assert (yield server_actions(root)) == [("server_ban", "root", "ann"), ("server_unban", "root", "ann")]
    entry = (yield root.call("chat.admin.audit"))["entries"][1]
    assert entry["reason"] == "spam links"


@pytest_twisted.inlineCallbacks
def test_an_admin_is_banned_only_by_another_and_a_timed_ban_ends(world):
    root = yield admin(world)
    boss = yield admin(world, "boss")
    assert (yield root.call("chat.admin.ban", "boss", duration=1)) is None
    assert (yield boss.left).reason == BANNED
    refused = yield login_refusal(world, **account("boss"))
    assert refused.error == BANNED and "until" in str(refused)
    bans = yield root.call("chat.admin.bans")
    assert [b["user"] for b in bans] == ["boss"] and isinstance(bans[0]["until"], int)

    async def logs_in():
        try:
            await world.connect(**account("boss"))
        except ApplicationError as e:
            assert e.error == BANNED, e
            return False
        return True
    yield poll_until(logs_in, timeout=10, interval=0.2)
    assert (yield root.call("chat.admin.bans")) == []


@pytest_twisted.inlineCallbacks
def test_banning_a_guest_refuses_new_guests_from_its_address(world):
    root = yield admin(world)
    yield world.register("ann")   # registering takes a guest session: before the ban
    gus = yield world.guest("Gus")
    assert (yield root.call("chat.admin.ban", gus.details.authid, reason="flooding")) is None
    assert (yield gus.left).reason == BANNED
    refused = yield login_refusal(world, **guest("Gustav"))   # a new guest id, the same 127.0.0.1
    assert refused.error == BANNED and "flooding" in str(refused)
    ann = yield world.user("ann", register=False)              # accounts from that address may log in
    assert (yield ann.call("chat.user.me"))["user"] == "ann"
    assert [b["user"] for b in (yield root.call("chat.admin.bans"))] == [gus.details.authid]
    yield root.call("chat.admin.unban", gus.details.authid)
    again = yield world.guest("Gustav")
    assert (yield again.call("chat.user.me"))["role"] == "guest"
