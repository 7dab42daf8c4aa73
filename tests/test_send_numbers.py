"""Message numbers reserved ahead on SQLite (:class:`NumberBlock`): one counters write per block of
numbers, never a number twice, and a failed batch's reservation is dropped."""
import pytest
import pytest_twisted

from wampchat.storage import open_database, prepare_database, run_sync
from wampchat.storage.chat.sends import NumberBlock, SendRequest, add_messages


def numbers_of(outcomes):
    return [o.message["id"][17:] for o in outcomes]   # after 13 digits of ms and 4 of sequence


def counter(engine, conn):
    return run_sync(engine, conn, lambda tx: tx.one("SELECT value FROM counters WHERE name = 'message'")["value"])


@pytest.fixture
def sqlite(tmp_path):
    engine = prepare_database(str(tmp_path / "chat.sqlite"))
    conn = engine.connect()
    run_sync(engine, conn, lambda tx: tx.execute("INSERT INTO rooms (id, title, private, owner, created) "
                                                 "VALUES ('r1', 'R', ?, NULL, 0)", (False,)))
    yield engine, conn
    conn.close()


def batch(engine, conn, block, ts, users=("ann", "bob")):
    requests = [SendRequest("r1", user, user, f"hi {ts}", ts) for user in users]
    statements = []

    def counting(tx):
        outcomes = add_messages(tx, requests, None, block)
        statements.append(tx.executed)
        return outcomes
    return run_sync(engine, conn, counting), statements[0]


def test_batches_share_one_reservation_and_the_counter_stays_ahead_of_every_number(sqlite):
    engine, conn = sqlite
    earlier, _ = batch(engine, conn, None, 999)   # ann and bob are members from here on
    block = NumberBlock()
    first, with_reservation = batch(engine, conn, block, 1000)
    second, without = batch(engine, conn, block, 1001)
    assert without == with_reservation - 1     # the second batch did not write the counter
    used = numbers_of(earlier) + numbers_of(first) + numbers_of(second)
    assert len(set(used)) == 6
    assert counter(engine, conn) == 2 + NumberBlock.SIZE   # the whole block is reserved
    # another writer counting without the block starts after it
    other, _ = batch(engine, conn, None, 1002, ("cid",))
    assert int(numbers_of(other)[0], 36) == 2 + NumberBlock.SIZE + 1


def test_a_failed_batch_drops_its_reservation(sqlite):
    engine, conn = sqlite
    block = NumberBlock()

    def failing(tx):
        add_messages(tx, [SendRequest("r1", "ann", "ann", "lost", 1000)], None, block)
        raise RuntimeError("the batch fails after reserving")
    with pytest.raises(RuntimeError):
        run_sync(engine, conn, failing)
    assert counter(engine, conn) == 0   # rolled back with the batch
    block.forget()                      # what the group commit does for a failed batch
    stored, _ = batch(engine, conn, block, 1001)
    assert counter(engine, conn) == NumberBlock.SIZE
    assert [int(n, 36) for n in numbers_of(stored)] == [1, 2]


@pytest_twisted.inlineCallbacks
def test_the_group_commit_tells_of_a_failed_batch_on_the_database_thread(tmp_path):
    from twisted.internet import reactor

    database = open_database(str(tmp_path / "chat.sqlite"), reactor)
    failed = []

    def fails(tx, items):
        raise RuntimeError("no")
    try:
        group = database.group_commit(fails, on_failure=lambda: failed.append(True))
        with pytest.raises(RuntimeError):
            yield group.submit("x")
        assert failed == [True]
    finally:
        database.close()
