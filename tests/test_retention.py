"""Message retention (API §8): --retention-days and a room's retention_days, run by one node of a cluster.

Old messages are written through the store with an old ``ts`` (their ids then carry that time too, as a
send at that time would have given them), before any newer message of their room; each run is called
directly with ``run_once`` (and a ``now`` where the lease's timing matters), so nothing waits.
"""
import time

import pytest
import pytest_twisted
from twisted.internet import defer, task
from twisted.python import usage

from chatkit import ChatWorld, make_world  # noqa: F401 (fixture)
from postgres import postgres  # noqa: F401 (fixture)
from wampchat.chat.retention import RetentionJob
from wampchat.storage.chat.sends import SendRequest, add_messages
from wampchat.tap import Options

DAY = 24 * 60 * 60 * 1000
HOUR = 60 * 60 * 1000


def now_ms():
    return int(time.time() * 1000)


def chat_of(world):
    return world.server.service.getServiceNamed("chat")


def job_of(world):
    return chat_of(world).retention


@defer.inlineCallbacks
def store_old(world, room, user, texts, ts):
    """Store ``texts`` by ``user`` in ``room`` as sent at ``ts`` (ms); their ids."""
    requests = [SendRequest(room, user, user, text, ts + n) for n, text in enumerate(texts)]
    outcomes = yield chat_of(world).store.database.run(add_messages, requests)
    assert all(o.created for o in outcomes)
    return [o.message["id"] for o in outcomes]


def ids_of(page):
    return [m["id"] for m in page["messages"]]


def rows_left(tx, ids):
    """How many rows of each table still hang on the messages ``ids`` (search rows: SQLite's FTS5 table)."""
    marks = ", ".join("?" * len(ids))
    left = {table: tx.one(f"SELECT COUNT(*) AS n FROM {table} WHERE {column} IN ({marks})", ids)["n"]
            for table, column in (("messages", "id"), ("mentions", "message_id"), ("reactions", "message_id"))}
    if tx.engine.name == "sqlite":
        left["search"] = tx.one("SELECT COUNT(*) AS n FROM messages_fts WHERE messages_fts MATCH 'ancient'")["n"]
        left["unindexed"] = tx.one("SELECT COUNT(*) AS n FROM messages_unindexed")["n"]
    return left


@pytest_twisted.inlineCallbacks
def test_expired_messages_go_with_their_mentions_reactions_and_search_rows(make_world):
    """A room keeping 7 days loses its 8-day-old messages and everything on them; its newer messages, their
    mentions and reactions, and the read markers stay; a room with no retention (and no default) keeps all."""
    world = yield make_world()
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "den")
    yield ann.call("chat.room.update", "den", retention_days=7)
    old = yield store_old(world, "den", "ann", ["ancient walrus @bob", "ancient walrus two"], now_ms() - 8 * DAY)
    forever = yield store_old(world, "lobby", "ann", ["walrus kept forever"], now_ms() - 800 * DAY)
    yield bob.call("chat.message.react", "den", old[0], "👍")
    yield bob.call("chat.read", "den", old[1])
    fresh = yield ann.call("chat.message.send", "den", "fresh walrus @bob")
    yield bob.call("chat.message.react", "den", fresh["id"], "🎉")
    assert len((yield bob.call("chat.message.search", "walrus"))["messages"]) == 4   # all indexed now

    run = yield job_of(world).run_once()

    assert (run.deleted, run.batches) == (2, 1)
    assert ids_of((yield bob.call("chat.message.history", "den"))) == [fresh["id"]]
    assert ids_of((yield bob.call("chat.message.search", "walrus"))) == [fresh["id"], forever[0]]
    left = yield chat_of(world).store.database.run(rows_left, old)
    assert left == dict.fromkeys(left, 0)
    kept = yield chat_of(world).store.database.run(rows_left, [fresh["id"]])
    assert (kept["messages"], kept["mentions"], kept["reactions"]) == (1, 1, 1)
    joined = yield bob.call("chat.room.join", "den")
    assert joined["reads"]["bob"] == old[1] and ids_of({"messages": joined["history"]}) == [fresh["id"]]
    den = [r for r in (yield bob.call("chat.room.list")) if r["id"] == "den"][0]
    assert (den["unread"], den["mentions"]) == (1, 1)
    yield bob.call("chat.read", "den", fresh["id"])      # a marker past deleted messages moves on as before
    assert ids_of((yield bob.call("chat.message.history", "lobby"))) == forever
