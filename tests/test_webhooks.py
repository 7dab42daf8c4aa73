"""API §11 incoming webhooks over real sockets, on both stores: made, listed and deleted by the room's owner
(or an admin), posting {"text"} as the bot hook_<id> with the webhook's name, in private rooms too, limited
like a user, and every refusal."""
import pytest_twisted

from chatkit import PASSWORD, error_of, make_world, world  # noqa: F401 (fixtures)
from httpapi import post

FORBIDDEN = "wampchat.error.forbidden"
INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"


@pytest_twisted.inlineCallbacks
def test_a_webhook_posts_as_its_bot_in_a_private_room(world):
    ann = yield world.user("ann")
    yield ann.call("chat.room.create", "ops", "Ops", True)
    hook = yield ann.call("chat.room.webhook_create", "ops", "Deploy Bot")
    assert hook["url"] == f"/hooks/{hook['id']}/" + hook["url"].rsplit("/", 1)[1] and hook["name"] == "Deploy Bot"
    heard = yield world.listen(ann, "chat.room.ops.message")
    status, message, _ = yield post(world, hook["url"], {"text": "build 42 is out"})
    assert status == 200
    assert (message["user"], message["nick"], message["text"]) == (f"hook_{hook['id']}", "Deploy Bot",
                                                                    "build 42 is out")
    yield heard.wait_for(1)
    history = yield ann.call("chat.message.history", "ops")
    assert [m["text"] for m in history["messages"]] == ["build 42 is out"]
    listed = yield ann.call("chat.room.webhooks", "ops")
    assert listed == [{"id": hook["id"], "name": "Deploy Bot", "creator": "ann", "created": listed[0]["created"]}]


@pytest_twisted.inlineCallbacks
def test_only_the_owner_or_an_admin_manages_webhooks(world):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "pub", "Pub", False)
    yield bob.call("chat.room.join", "pub")
    for call in (bob.call("chat.room.webhook_create", "pub", "Bot"), bob.call("chat.room.webhooks", "pub")):
        assert (yield error_of(call)) == FORBIDDEN
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.room.webhook_create", "pub", "Bot"))) == FORBIDDEN
    world.add_admin("root")
    root = yield world.connect(authmethods=["ticket"], authid="root", secret=PASSWORD)
    hook = yield root.call("chat.room.webhook_create", "pub", "Root Bot")
    assert (yield error_of(bob.call("chat.room.webhook_delete", "pub", hook["id"]))) == FORBIDDEN
    for bad in ("", "x" * 100, 7, "a\u202eb"):
        assert (yield error_of(ann.call("chat.room.webhook_create", "pub", bad))) == INVALID, bad
    assert (yield error_of(ann.call("chat.room.webhook_create", "nope", "Bot"))) == NOT_FOUND
    assert (yield ann.call("chat.room.webhook_delete", "pub", hook["id"])) == {"id": hook["id"], "deleted": True}
    assert (yield post(world, hook["url"], {"text": "gone"}))[0] == 404
    assert (yield error_of(ann.call("chat.room.webhook_delete", "pub", hook["id"]))) == NOT_FOUND


@pytest_twisted.inlineCallbacks
def test_wrong_secrets_bad_bodies_and_methods_are_refused(world):
    ann = yield world.user("ann")
    yield ann.call("chat.room.create", "pub", "Pub", False)
    hook = yield ann.call("chat.room.webhook_create", "pub", "Bot")
    forged = hook["url"][:-3] + ("aaa" if not hook["url"].endswith("aaa") else "bbb")
    assert (yield post(world, forged, {"text": "x"}))[0] == 404
    assert (yield post(world, f"/hooks/{hook['id']}", {"text": "x"}))[0] == 404
    for body in ({"text": 5}, {"msg": "x"}, ["x"], {"text": ""}, {"text": "x" * 5000}):
        status, answer, _ = yield post(world, hook["url"], body)
        assert status == 400 and answer["error"] == INVALID, body
    assert (yield post(world, hook["url"], raw=b"not json"))[0] == 400
    assert (yield post(world, hook["url"], raw=b"x" * 20000))[0] == 413
    assert (yield post(world, hook["url"], method="GET"))[0] == 405
    assert (yield ann.call("chat.message.history", "pub"))["messages"] == []


@pytest_twisted.inlineCallbacks
def test_a_webhook_is_rate_limited_like_a_user(make_world):
    world = yield make_world(["--send-rate", "2"])
    ann = yield world.user("ann")
    yield ann.call("chat.room.create", "pub", "Pub", False)
    hook = yield ann.call("chat.room.webhook_create", "pub", "Bot")
    statuses = []
    for i in range(3):
        status, answer, _ = yield post(world, hook["url"], {"text": f"m{i}"})
        statuses.append(status)
    assert statuses == [200, 200, 429] and answer["error"] == "wampchat.error.rate_limited"
