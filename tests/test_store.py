"""The chat store on both engines: history pages, idempotent sends, read markers, persistence, commit order."""
import threading

import pytest
import pytest_twisted
from twisted.internet import defer

from wampchat.router.credentials import make_credentials, verify_password
from wampchat.storage import Conflict, open_database, run_sync
from wampchat.storage.chat.sends import SendRequest, add_messages
from wampchat.storage.chat.store import ChatStore
from wampchat.storage.group_commit import GroupCommit
from wampchat.storage.engines import engine_for


@pytest.fixture
def store(db_url):
    """A ChatStore on a fresh database of each engine, closed after the test."""
    from twisted.internet import reactor

    s = ChatStore(open_database(db_url, reactor))
    yield s
    s.close()


def send(store, room, user, text, ts, client_msg_id=None):
    """Store one message through the real send transaction; Deferred of its SendOutcome."""
    d = store.database.run(add_messages, [SendRequest(room, user, user.title(), text, ts, client_msg_id)])
    return d.addCallback(lambda outcomes: outcomes[0])


def _ids(page):
    return [m["id"] for m in page["messages"]]


@pytest_twisted.inlineCallbacks
def test_history_pages_before_and_after_with_more(store):
    """History pages backwards with before, forwards with after, oldest first, and says when more exist."""
    yield store.create_room("r1", "R", False, "ann", 1)
    ids = []
    for i in range(7):
        ids.append((yield send(store, "r1", "ann", f"m{i}", 1000 + i)).message["id"])
    assert ids == sorted(ids)
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
def test_ids_keep_order_when_the_clock_stands_still_or_steps_back(store):
    """A sender clock that repeats or goes back never makes a smaller id; ids are unique across rooms."""
    yield store.create_room("r1", "R", False, "ann", 1)
    yield store.create_room("r2", "R", False, "ann", 1)
    made = []
    for ts in (5000, 5000, 4000, 5000, 6000):
        for room in ("r1", "r2"):
            made.append((room, (yield send(store, room, "ann", "t", ts)).message["id"]))
    for room in ("r1", "r2"):
        ids = [i for r, i in made if r == room]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert len({i for _, i in made}) == len(made)


@pytest_twisted.inlineCallbacks
def test_a_batch_larger_than_one_insert_stores_every_message_and_mention(store):
    """A batch of more messages than one multi-row INSERT takes (ROWS_PER_INSERT) is stored whole, in order,
    with its mentions: the inserts are split, nothing is dropped or doubled."""
    from wampchat.storage.database import ROWS_PER_INSERT

    yield store.create_room("r1", "R", True, "ann", 1, ["ann", "bob"])  # private: its members are who @ reaches
    yield store.create_room("r2", "R", True, "ann", 1, ["ann", "bob"])
    requests = [SendRequest("r1" if i % 3 else "r2", "ann", "Ann", f"m{i} @bob", 1000 + i)
                for i in range(ROWS_PER_INSERT * 2 + 7)]
    outcomes = yield store.database.run(add_messages, requests)
    assert all(o.created for o in outcomes)
    for room in ("r1", "r2"):
        mine = [o.message["id"] for o, r in zip(outcomes, requests) if r.room == room]
        page = yield store.history(room, limit=200)
        older = yield store.history(room, before=page["messages"][0]["id"], limit=200)
        stored = _ids(older) + _ids(page)
        assert stored == mine and [m["text"] for m in older["messages"] + page["messages"]] == \
            [r.text for r in requests if r.room == room]
        assert all(m["mentions"] == ["bob"] for m in older["messages"] + page["messages"])
    mentioned = yield store.database.run(lambda tx: tx.one("SELECT COUNT(*) AS n FROM mentions WHERE username = ?",
                                                           ("bob",))["n"])
    assert mentioned == len(requests)


@pytest_twisted.inlineCallbacks
def test_client_msg_id_stores_a_message_once(store):
    """A retry with the same client_msg_id returns the first message and inserts nothing; the author joins once."""
    yield store.create_room("r1", "R", False, "ann", 1)
    first = yield send(store, "r1", "ann", "hi", 1, "c1")
    again = yield send(store, "r1", "ann", "hi", 2, "c1")
    assert first.created and not again.created and again.message == first.message
    assert first.joined and not again.joined
    assert (yield store.member_names("r1")) == ["ann"]
    assert _ids((yield store.history("r1"))) == [first.message["id"]]


@pytest_twisted.inlineCallbacks
def test_one_batch_with_a_repeated_client_msg_id_stores_it_once(store):
    """Two sends with one client_msg_id in the same group commit become one message."""
    yield store.create_room("r1", "R", False, "ann", 1)
    batch = [SendRequest("r1", "ann", "Ann", "hi", 1, "c1"), SendRequest("r1", "ann", "Ann", "hi", 1, "c1"),
             SendRequest("r1", "bob", "Bob", "yo", 1, "c1")]
    first, repeat, other = yield store.database.run(add_messages, batch)
    assert first.created and not repeat.created and repeat.message == first.message
    assert other.created and other.message["id"] != first.message["id"]
    assert len((yield store.history("r1"))["messages"]) == 2


@pytest_twisted.inlineCallbacks
def test_private_rooms_refuse_non_members_inside_the_transaction(store):
    """A send to a private room by a non-member stores nothing; a member's send carries the audience."""
    yield store.create_room("p", "P", True, "ann", 1, ["ann", "bob"])
    refused = yield send(store, "p", "eve", "let me in", 1)
    allowed = yield send(store, "p", "bob", "hello", 2)
    assert refused.refused and refused.message is None
    assert allowed.created and allowed.audience == ["ann", "bob"] and not allowed.joined
    assert [m["text"] for m in (yield store.history("p"))["messages"]] == ["hello"]


@pytest_twisted.inlineCallbacks
def test_read_markers_only_move_forward_and_drive_unread(store):
    """Unread counts other users' messages after the marker, and an older marker does not move it back."""
    yield store.create_room("r1", "R", False, "ann", 1, ["ann"])
    ids = []
    for i in range(4):
        ids.append((yield send(store, "r1", "bob" if i else "ann", "t", 10 + i)).message["id"])
    (room,) = [r for r in (yield store.visible_rooms("ann")) if r["id"] == "r1"]
    assert room["unread"] == 3 and room["last_message"]["id"] == ids[-1] and room["member"] is True
    yield store.mark_read("r1", "ann", ids[2])
    assert (yield store.mark_read("r1", "ann", ids[1])) == ids[2]
    (room,) = [r for r in (yield store.visible_rooms("ann")) if r["id"] == "r1"]
    assert room["unread"] == 1


@pytest_twisted.inlineCallbacks
def test_a_taken_username_is_a_conflict(store):
    """Adding a user twice fails with Conflict, on either engine."""
    yield store.add_user(make_credentials("ann", "a long password", "user"), "Ann", 1)
    with pytest.raises(Conflict):
        yield store.add_user(make_credentials("ann", "another password", "user"), "Ann", 2)


@pytest_twisted.inlineCallbacks
def test_everything_survives_reopening(db_url):
    """Rooms, members, messages and hashed users are there again after closing and reopening the database."""
    from twisted.internet import reactor

    store = ChatStore(open_database(db_url, reactor))
    yield store.create_room("r1", "R", True, "ann", 1, ["ann", "bob"])
    yield send(store, "r1", "ann", "kept", 1)
    yield store.add_user(make_credentials("ann", "a long password", "admin"), "Ann", 1)
    store.close()
    store = ChatStore(open_database(db_url, reactor))
    try:
        room = yield store.get_room("r1")
        members = yield store.member_names("r1")
        page = yield store.history("r1")
        creds = yield store.get_credentials("ann")
    finally:
        store.close()
    assert room["private"] is True and members == ["ann", "bob"]
    assert [m["text"] for m in page["messages"]] == ["kept"]
    assert creds.role == "admin" and verify_password("a long password", creds.password_hash)


class SteppedDatabase:
    """The three things GroupCommit asks of a Database, with the database thread stepped by the test:
    ``in_thread`` queues work, ``step()`` runs the next piece, answers wait in ``reactor_calls``."""

    def __init__(self, outcomes):
        self.outcomes = iter(outcomes)   # what each transaction returns, or an exception it raises
        self.thread_work = []
        self.reactor_calls = []
        self.batches = []

    def in_thread(self, fn, *args):
        self.thread_work.append((fn, args))

    def call_from_thread(self, fn, *args):
        self.reactor_calls.append((fn, args))

    def transact(self, fn, *args):
        return fn(None, *args)

    def commit(self, tx, batch):
        self.batches.append(list(batch))
        outcome = next(self.outcomes)
        if callable(outcome):                   # something the test does while this batch commits
            outcome = outcome()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def step(self):
        fn, args = self.thread_work.pop(0)
        fn(*args)

    def run_reactor(self):
        while self.reactor_calls:
            fn, args = self.reactor_calls.pop(0)
            fn(*args)


def stepped_group(outcomes):
    db = SteppedDatabase(outcomes)
    return db, GroupCommit(db, db.commit)


@pytest_twisted.inlineCallbacks
def test_group_commit_answers_in_order_and_batches_what_waits():
    """Items queued while a batch commits go together into the next one; each gets its own result, in order."""
    db, group = stepped_group([["r0"], ["r1", "r2", "r3", "r4"]])
    results = [group.submit(0)]
    db.step()                                   # [0] commits; 1-4 arrive meanwhile
    results += [group.submit(n) for n in range(1, 5)]
    db.step()
    assert db.batches == [[0], [1, 2, 3, 4]] and db.thread_work == []
    db.run_reactor()
    assert (yield defer.gatherResults(results)) == ["r0", "r1", "r2", "r3", "r4"]
    assert (group.batches, group.items) == (2, 5)


def test_group_commit_takes_the_next_batch_on_the_database_thread_before_the_reactor_answers():
    """The database thread queues the next batch itself when a commit is done: the reactor has not yet
    answered the batch before (nor even run), and the next batch is already queued behind it."""
    waiting = []

    def submitted_while_committing():
        waiting.extend([group.submit("b"), group.submit("c")])
        return ["ra"]

    db, group = stepped_group([submitted_while_committing, ["rb", "rc"]])
    first = group.submit("a")
    db.step()
    assert not first.called and len(db.reactor_calls) == 1 and len(db.thread_work) == 1
    db.step()
    assert db.batches == [["a"], ["b", "c"]] and not first.called and db.thread_work == []
    db.run_reactor()
    assert [d.result for d in [first] + waiting] == ["ra", "rb", "rc"]


def test_group_commit_fails_a_failed_batch_in_order_and_goes_on():
    """A batch whose commit fails fails each of its items, after the batch before was answered; the next
    batch still runs; an item submitted from an answer is answered after them."""
    db, group = stepped_group([["r0"], RuntimeError("database away"), ["r3"]])
    order = []

    def answered(result, n):
        order.append((n, result if isinstance(result, str) else result.getErrorMessage()))

    def first_answered(result):
        answered(result, 0)
        group.submit(3).addBoth(answered, 3)

    items = [group.submit(0)]
    db.step()
    items += [group.submit(1), group.submit(2)]
    items[0].addCallback(first_answered)
    items[1].addErrback(answered, 1)
    items[2].addErrback(answered, 2)
    db.step()
    assert db.thread_work == []                 # nothing waits: the queue stopped draining
    db.run_reactor()                            # answers 0 (which submits 3), then fails 1 and 2
    assert order == [(0, "r0"), (1, "database away"), (2, "database away")]
    db.step()
    db.run_reactor()
    assert order[-1] == (3, "r3") and db.batches == [[0], [1, 2], [3]]


@pytest_twisted.inlineCallbacks
def test_group_commit_on_a_real_database_commits_each_batch_and_reports_a_broken_one(store):
    """On each engine: concurrent submits share transactions and are committed when answered; a batch
    whose transaction raises fails its items, and later batches still commit."""
    yield store.database.run(lambda tx: tx.execute("CREATE TABLE gc_items (n INTEGER PRIMARY KEY)"))

    def insert(tx, batch):
        for n in batch:
            tx.execute("INSERT INTO gc_items (n) VALUES (?)", (n,))
        return [n * 10 for n in batch]

    group = store.database.group_commit(insert)
    results = yield defer.gatherResults([group.submit(n) for n in range(40)])
    assert results == [n * 10 for n in range(40)] and group.items == 40 and group.batches < 40
    with pytest.raises(Conflict):
        yield group.submit(1)                   # already stored: the batch's transaction raises
    assert (yield group.submit(41)) == 410
    stored = yield store.database.run(lambda tx: [r["n"] for r in tx.query("SELECT n FROM gc_items ORDER BY n")])
    assert stored == list(range(40)) + [41]


def test_concurrent_senders_on_separate_connections_never_let_a_reader_skip(db_url):
    """Writers on their own connections (as cluster nodes are) commit into one room while a reader pages
    with after=<last id seen>: the reader sees every message exactly once, ids only growing (commit order)."""
    engine = engine_for(db_url)
    database = open_database(db_url, None)  # only for its schema; the writers below use plain connections
    database.close()
    setup = engine.connect()
    run_sync(engine, setup, lambda tx: tx.execute("INSERT INTO rooms (id, title, private, owner, created) "
                                                  "VALUES ('r', 'R', ?, NULL, 0)", (False,)))
    setup.close()
    writers, per_writer = (4 if engine.shared else 2), 60
    stop = threading.Event()
    errors = []

    def write(n):
        conn = engine.connect()
        try:
            for i in range(per_writer):
                batch = [SendRequest("r", f"w{n}", "W", f"{n}:{i}:{j}", 1_000_000 + i) for j in range(1 + i % 3)]
                run_sync(engine, conn, add_messages, batch)
        except Exception as e:  # reported below: a writer must not fail
            errors.append(e)
        finally:
            conn.close()

    seen = []

    def read():
        conn = engine.connect()
        try:
            last = None
            while True:
                done = stop.is_set()
                page = run_sync(engine, conn, _page_after, last)
                seen.extend(page)
                last = page[-1] if page else last
                if done and not page:
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    reader.join(120)
    assert not errors and not reader.is_alive()
    expected = sum(1 + i % 3 for i in range(per_writer)) * writers
    assert len(seen) == expected == len(set(seen))
    assert seen == sorted(seen)


def _page_after(tx, last):
    if last is None:
        rows = tx.query("SELECT id FROM messages WHERE room = 'r' ORDER BY id LIMIT 50")
    else:
        rows = tx.query("SELECT id FROM messages WHERE room = 'r' AND id > ? ORDER BY id LIMIT 50", (last,))
    return [r["id"] for r in rows]


@pytest_twisted.inlineCallbacks
def test_database_threads_close_their_connections(db_url):
    """Closing a Database stops its threads and closes every connection they opened."""
    from twisted.internet import reactor

    database = open_database(db_url, reactor)
    opened = yield database.run(lambda tx: tx._cursor.connection)
    database.close()
    with pytest.raises(database.engine.database_errors):
        opened.execute("SELECT 1")


@pytest_twisted.ensureDeferred
async def test_losing_postgres_answers_unavailable_and_recovers_without_losing_messages(postgres, tmp_path):
    """With the database stopped mid-run, sends fail with wampchat.error.unavailable and nothing else breaks;
    once it is back, sends work again and every acknowledged message is in history, once."""
    from chatkit import ChatWorld, error_of
    from rabbitmq import get_json

    world = ChatWorld(tmp_path, postgres.new_database())
    await world.start()
    try:
        ann = await world.guest("Ann")
        acknowledged = [(await ann.call("chat.message.send", "lobby", f"before {i}"))["id"] for i in range(3)]
        postgres.stop()
        try:
            assert await error_of(ann.call("chat.message.send", "lobby", "during")) == "wampchat.error.unavailable"
            assert await error_of(ann.call("chat.message.history", "lobby")) == "wampchat.error.unavailable"
            health = await get_json(world.server.http_url + "/healthz")
            assert health["database"]["state"] == "unavailable"
        finally:
            postgres.start()
        acknowledged.append((await ann.call("chat.message.send", "lobby", "after"))["id"])
        page = await ann.call("chat.message.history", "lobby")
        assert [m["id"] for m in page["messages"]] == acknowledged
        assert (await get_json(world.server.http_url + "/healthz"))["database"]["state"] == "ok"
    finally:
        await world.stop()



@pytest_twisted.ensureDeferred
async def test_a_burst_of_arrivals_commits_in_few_transactions_and_each_user_comes_online_once(store):
    """Presence writes that queue behind a commit share the next one; every user is announced once, in
    the cluster's view, and leaving takes each offline again."""
    from twisted.internet import reactor

    from wampchat.chat.cluster_presence import ClusterPresence

    changes = []
    presence = ClusterPresence(store.database, "node-1", reactor, changes.append, heartbeat=3600)
    await presence.start()
    try:
        users = [f"guest_{n:03d}" for n in range(60)]
        await defer.gatherResults([presence.arrived(user, "guest", user) for user in users])
        assert presence._writes.items == 60 and presence._writes.batches < 30
        assert sorted(c.user for c in changes if c.online) == users
        online = await store.database.run(lambda tx: [r["username"] for r in tx.query(
            "SELECT username FROM online WHERE node = ? ORDER BY username", ("node-1",))])
        assert online == users
        changes.clear()
        await defer.gatherResults([presence.departed(user, "guest", user) for user in users])
        assert sorted(c.user for c in changes if not c.online) == users
    finally:
        await presence.stop()


def _texts(page):
    return sorted(m["text"] for m in page["messages"])


def _fts_is_intact(store):
    """SQLite: FTS5's own check that the index matches the messages it indexes (raises if not)."""
    if store.database.engine.name != "sqlite":
        return defer.succeed(True)
    return store.database.run(lambda tx: tx.execute(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)") and True)


@pytest_twisted.inlineCallbacks
def test_search_finds_new_edited_and_not_deleted_messages_however_far_indexing_has_got(store):
    """A message is found as soon as its send returned, with the text it has now: edits and deletes of
    messages still waiting to be indexed (SQLite indexes in batches) and of indexed ones alike."""
    from wampchat.chat.search import parse_query

    yield store.create_room("r1", "R", False, "ann", 1)
    first = (yield send(store, "r1", "ann", "apple one", 1000)).message
    assert _texts((yield store.search("ann", parse_query("apple")))) == ["apple one"]   # indexed by the search
    waiting = []
    for n in range(3):
        waiting.append((yield send(store, "r1", "ann", f"apple {n}", 1001 + n)).message)
    yield store.edit_message("r1", first["id"], "banana one", 2000)                    # indexed: index updated
    yield store.edit_message("r1", waiting[0]["id"], "banana zero", 2001)              # still waiting
    yield store.delete_message("r1", waiting[1]["id"])
    assert _texts((yield store.search("ann", parse_query("apple")))) == ["apple 2"]
    assert _texts((yield store.search("ann", parse_query("banana")))) == ["banana one", "banana zero"]
    yield store.edit_message("r1", waiting[2]["id"], "cherry", 2002)                   # indexed by now
    assert _texts((yield store.search("ann", parse_query("apple")))) == []
    assert _texts((yield store.search("ann", parse_query("cherry")))) == ["cherry"]
    assert (yield _fts_is_intact(store))


@pytest_twisted.inlineCallbacks
def test_sends_index_their_messages_in_batches_of_index_batch(store):
    """SQLite: a send transaction leaves its messages waiting, until the one that makes INDEX_BATCH of
    them indexes all; PostgreSQL indexes each insert (nothing ever waits)."""
    from wampchat.storage.chat.search import INDEX_BATCH, index_messages

    def waiting(tx):
        if tx.engine.name != "sqlite":
            return 0
        return tx.one("SELECT COUNT(*) AS n FROM messages_unindexed")["n"]

    yield store.create_room("r1", "R", False, "ann", 1)
    yield store.database.run(index_messages)
    requests = [SendRequest("r1", "ann", "Ann", f"note {n}", 1000 + n) for n in range(INDEX_BATCH - 1)]
    yield store.database.run(add_messages, requests)
    sqlite = store.database.engine.name == "sqlite"
    assert (yield store.database.run(waiting)) == (INDEX_BATCH - 1 if sqlite else 0)
    yield send(store, "r1", "ann", "the last one", 5000)
    assert (yield store.database.run(waiting)) == 0
    if sqlite:
        hits = yield store.database.run(lambda tx: tx.one(
            "SELECT COUNT(*) AS n FROM messages_fts WHERE messages_fts MATCH 'note'")["n"])
        assert hits == INDEX_BATCH - 1
    assert (yield _fts_is_intact(store))


@pytest.fixture
def postgres_store(postgres):
    """A ChatStore on a fresh PostgreSQL schema (for what only a server can do)."""
    from twisted.internet import reactor

    s = ChatStore(open_database(postgres.new_database(), reactor))
    yield s
    s.close()


@pytest_twisted.inlineCallbacks
def test_a_send_batch_on_a_connection_the_server_dropped_is_retried_once_on_a_new_one(postgres_store):
    """PostgreSQL: the database thread's kept connection was closed by the server (a restart, an idle
    timeout); the next send batch, its reads pipelined, fails before anything ran and is retried on a
    fresh connection without the caller noticing."""
    store = postgres_store
    yield store.create_room("r1", "R", False, "ann", 1)
    pid = yield store.database.run(lambda tx: tx.one("SELECT pg_backend_pid() AS pid")["pid"])
    killer = store.database.engine.connect()
    try:
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killer.commit()
    finally:
        killer.close()
    group = store.database.group_commit(add_messages)
    outcome = yield group.submit(SendRequest("r1", "ann", "Ann", "after the drop", 2000))
    assert outcome.created and outcome.message["text"] == "after the drop"
    new_pid = yield store.database.run(lambda tx: tx.one("SELECT pg_backend_pid() AS pid")["pid"])
    assert new_pid != pid and store.database.failures == 0


def test_a_sqlite_connection_fsyncs_its_log_and_keeps_temporary_data_in_memory(tmp_path):
    """WAL with synchronous=FULL (a returned send survives a power cut); temp_store=MEMORY, so that a
    multi-row statement's journal or a query's sort never creates, and deletes, a file under /var/tmp."""
    conn = engine_for(str(tmp_path / "chat.db")).connect()
    try:
        pragmas = {name: conn.execute(f"PRAGMA {name}").fetchone()[0]
                   for name in ("journal_mode", "synchronous", "temp_store", "foreign_keys")}
    finally:
        conn.close()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "temp_store": 2, "foreign_keys": 1}
