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


@pytest_twisted.inlineCallbacks
def test_a_rooms_days_beat_the_server_default(make_world):
    """With --retention-days 30: a room keeping 1 day loses 2-day-old messages, a room keeping 90 days keeps
    40-day-old ones, and a room that sets nothing keeps 30 days."""
    world = yield make_world(["--retention-days", "30"])
    ann = yield world.user("ann")
    for room, days in (("short", 1), ("long", 90)):
        yield ann.call("chat.room.create", room)
        yield ann.call("chat.room.update", room, retention_days=days)
    yield store_old(world, "short", "ann", ["two days"], now_ms() - 2 * DAY)
    long = yield store_old(world, "long", "ann", ["forty days"], now_ms() - 40 * DAY)
    lobby = yield store_old(world, "lobby", "ann", ["forty days"], now_ms() - 40 * DAY)
    lobby += yield store_old(world, "lobby", "ann", ["two days"], now_ms() - 2 * DAY)

    run = yield job_of(world).run_once()

    assert run.deleted == 2
    assert ids_of((yield ann.call("chat.message.history", "short"))) == []
    assert ids_of((yield ann.call("chat.message.history", "long"))) == long
    assert ids_of((yield ann.call("chat.message.history", "lobby"))) == lobby[1:]


@pytest_twisted.inlineCallbacks
def test_no_default_and_no_room_days_keep_everything(make_world):
    """0 and 0: a run deletes nothing, however old."""
    world = yield make_world()
    ann = yield world.user("ann")
    kept = yield store_old(world, "lobby", "ann", ["from 1990"], 631152000000)
    run = yield job_of(world).run_once()
    assert (run.deleted, ids_of((yield ann.call("chat.message.history", "lobby")))) == (0, kept)


@pytest_twisted.inlineCallbacks
def test_a_big_backlog_is_deleted_in_several_bounded_batches(make_world):
    """350 + 60 expired messages in two rooms go in transactions of at most 100 each; the next run finds none."""
    world = yield make_world(["--retention-days", "1"])
    ann = yield world.user("ann")
    yield ann.call("chat.room.create", "den")
    yield store_old(world, "lobby", "ann", [f"old {n}" for n in range(350)], now_ms() - 3 * DAY)
    yield store_old(world, "den", "ann", [f"old {n}" for n in range(60)], now_ms() - 3 * DAY)
    fresh = yield ann.call("chat.message.send", "lobby", "still here")
    job = job_of(world)
    job.batch = 100

    run = yield job.run_once()

    assert run.deleted == 410 and run.batches >= 5
    assert ids_of((yield ann.call("chat.message.history", "lobby"))) == [fresh["id"]]
    assert ids_of((yield ann.call("chat.message.history", "den"))) == []
    assert (yield job.run_once()).deleted == 0


@pytest_twisted.inlineCallbacks
def test_a_lease_is_held_until_it_runs_out(make_world):
    """take_lease: the first holder gets it, renews it while it holds it, and another gets it only once
    ``until`` has passed."""
    world = yield make_world()
    store = chat_of(world).store
    assert (yield store.take_lease("job", "a", 1000, 100)) is True        # until 1100
    assert (yield store.take_lease("job", "b", 1050, 100)) is False
    assert (yield store.take_lease("job", "a", 1060, 100)) is True        # renewed: until 1160
    assert (yield store.take_lease("job", "b", 1159, 100)) is False
    assert (yield store.take_lease("job", "b", 1160, 100)) is True        # a's ran out
    assert (yield store.take_lease("job", "a", 1200, 100)) is False
    assert (yield store.take_lease("other", "a", 1200, 100)) is True      # leases are per name


@pytest_twisted.inlineCallbacks
def test_one_node_of_a_cluster_runs_retention_and_another_takes_over(tmp_path, postgres):
    """Two nodes on one database: when both run at once only one deletes; the other is refused while the lease
    lasts (an interval) and takes it over once it has run out, after which the first is refused."""
    url = postgres.new_database()
    a = yield ChatWorld(tmp_path / "a", url, ["--retention-days", "1"]).start()
    b = yield ChatWorld(tmp_path / "b", url, ["--retention-days", "1"]).start()
    try:
        yield a.register("ann")
        yield store_old(a, "lobby", "ann", ["old one"], now_ms() - 3 * DAY)
        job_a, job_b = job_of(a), job_of(b)
        now = now_ms()
        runs = yield defer.gatherResults([defer.ensureDeferred(job.run_once(now)) for job in (job_a, job_b)])
        assert sorted(run is None for run in runs) == [False, True]
        assert [run.deleted for run in runs if run is not None] == [1]
        holder, other = (job_a, job_b) if runs[0] is not None else (job_b, job_a)
        yield store_old(a, "lobby", "ann", ["old two"], now_ms() - 2 * DAY)
        assert (yield other.run_once(now + HOUR - 1)) is None
        taken = yield other.run_once(now + HOUR)
        assert taken is not None and taken.deleted == 1
        assert (yield holder.run_once(now + HOUR + 1)) is None
    finally:
        yield a.stop()
        yield b.stop()


class FakeStore:
    """A store whose retention deletes nothing and whose lease is always free: counts the runs."""

    def __init__(self):
        self.runs = []

    def take_lease(self, name, holder, now_ms, hold_ms):
        self.runs.append(now_ms)
        return defer.succeed(True)

    def delete_expired(self, default_days, now_ms, limit, from_room=""):
        return defer.succeed((0, None))


@pytest_twisted.inlineCallbacks
def test_the_job_runs_a_minute_after_start_then_hourly_until_stopped():
    clock = task.Clock()
    store = FakeStore()
    job = RetentionJob(store, 0, "node1", clock)
    job.start()
    clock.advance(59)
    assert store.runs == []
    clock.advance(1)
    assert store.runs == [60_000]
    clock.advance(3600)
    assert store.runs == [60_000, 3_660_000]
    yield defer.ensureDeferred(job.stop())
    clock.advance(7200)
    assert len(store.runs) == 2


@pytest.mark.parametrize("value", ["-1", "soon", "1.5"])
def test_a_bad_retention_days_is_a_usage_error_naming_the_option(value):
    with pytest.raises(usage.UsageError) as info:
        Options().parseOptions(["--retention-days", value])
    assert "--retention-days" in str(info.value)


def test_retention_days_default_to_keeping_forever():
    options = Options()
    options.parseOptions([])
    assert options["retention-days"] == 0
    options = Options()
    options.parseOptions(["--retention-days", "30"])
    assert options["retention-days"] == 30
