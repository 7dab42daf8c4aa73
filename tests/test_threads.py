"""Replies and threads (API §9): quotes, chains, reply counts and their event, on both stores."""
import pytest_twisted

from chatkit import error_of, payloads, world  # noqa: F401 (fixture)

INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"


@pytest_twisted.inlineCallbacks
def test_a_reply_quotes_its_message_and_joins_the_chain_of_the_first(world):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield bob.call("chat.room.join", "lobby")
    threads = yield world.listen(ann, "chat.room.lobby.thread")
    root = yield ann.call("chat.message.send", "lobby", "who brings the cake? " + "x" * 300)
    reply = yield bob.call("chat.message.send", "lobby", "me", reply_to=root["id"])
    assert reply["reply_to"] == {"id": root["id"], "user": "ann", "nick": "ann", "text": root["text"][:200]}
    assert reply["thread"] == root["id"]
    second = yield ann.call("chat.message.send", "lobby", "thanks!", reply_to=reply["id"])
    assert second["thread"] == root["id"] and second["reply_to"]["id"] == reply["id"]
    yield threads.wait_for(2)
    assert [(p["id"], p["replies"]) for p in payloads(threads)] == [(root["id"], 1), (root["id"], 2)]
    assert payloads(threads)[1]["last_reply"] == second["ts"]
    page = yield bob.call("chat.message.thread", "lobby", root["id"])
    assert page["root"]["id"] == root["id"] and page["root"]["replies"] == 2
    assert [m["text"] for m in page["messages"]] == ["me", "thanks!"] and page["more"] is False
    assert (yield bob.call("chat.message.thread", "lobby", reply["id"]))["root"]["id"] == root["id"]
    later = yield bob.call("chat.message.thread", "lobby", root["id"], after=reply["id"], limit=1)
    assert [m["text"] for m in later["messages"]] == ["thanks!"]
    history = (yield bob.call("chat.message.history", "lobby"))["messages"]
    by_id = {m["id"]: m for m in history}
    assert by_id[root["id"]]["replies"] == 2 and by_id[second["id"]]["reply_to"]["text"] == "me"
    yield bob.call("chat.message.edit", "lobby", reply["id"], "me, a chocolate one")
    quoted = yield bob.call("chat.message.thread", "lobby", root["id"])
    assert quoted["messages"][1]["reply_to"]["text"] == "me, a chocolate one"   # quotes follow edits


@pytest_twisted.inlineCallbacks
def test_reply_refusals(world):
    ann = yield world.user("ann")
    yield ann.call("chat.room.create", "den")
    other = yield ann.call("chat.message.send", "den", "in another room")
    gone = yield ann.call("chat.message.send", "lobby", "soon deleted")
    yield ann.call("chat.message.delete", "lobby", gone["id"])
    assert (yield error_of(ann.call("chat.message.send", "lobby", "hi", reply_to=other["id"]))) == NOT_FOUND
    assert (yield error_of(ann.call("chat.message.send", "lobby", "hi", reply_to=gone["id"]))) == NOT_FOUND
    assert (yield error_of(ann.call("chat.message.send", "lobby", "hi", reply_to="999"))) in (INVALID, NOT_FOUND)
    assert (yield error_of(ann.call("chat.message.send", "lobby", "hi", reply_to=5))) == INVALID
    assert (yield error_of(ann.call("chat.message.thread", "lobby", other["id"]))) == NOT_FOUND
    history = (yield ann.call("chat.message.history", "lobby"))["messages"]
    assert [m["text"] for m in history if not m.get("deleted")] == []   # nothing was stored


@pytest_twisted.inlineCallbacks
def test_a_private_rooms_threads_are_its_members_only(world):
    ann = yield world.user("ann")
    cid = yield world.user("cid")
    yield ann.call("chat.room.create", "den", private=True)
    root = yield ann.call("chat.message.send", "den", "secret")
    yield ann.call("chat.message.send", "den", "more secret", reply_to=root["id"])
    assert (yield error_of(cid.call("chat.message.thread", "den", root["id"]))) == NOT_FOUND
    assert (yield error_of(cid.call("chat.message.send", "lobby", "peek", reply_to=root["id"]))) == NOT_FOUND
