"""What a SQLite send batch asks the database: one read of each room (its row, its authors' roles and the
sanctions on them together), and the authors' last messages only for a room in slow mode."""
import pytest

from test_send_numbers import sqlite  # noqa: F401 (fixture: a fresh SQLite file with the public room r1)
from wampchat.storage import run_sync
from wampchat.storage.chat.sends import NumberBlock, SendRequest, add_messages


@pytest.fixture
def traced(sqlite):
    """(engine, connection, the statements it ran) on a fresh SQLite file with the public room r1."""
    engine, conn = sqlite
    statements = []
    conn.set_trace_callback(statements.append)
    return engine, conn, statements


def send_batch(engine, conn, ts):
    requests = [SendRequest("r1", user, user, f"hi {ts}", ts) for user in ("ann", "bob")]
    return run_sync(engine, conn, add_messages, requests, None, NumberBlock())


def test_a_batch_reads_its_room_once_and_skips_slow_mode_outside_it(traced):
    engine, conn, statements = traced
    send_batch(engine, conn, 1000)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "room_bans" in reads[0] and "members" in reads[0]
    assert not any("MAX(ts)" in s for s in statements)


def test_in_slow_mode_the_authors_last_messages_are_read_and_enforced(traced):
    engine, conn, statements = traced
    send_batch(engine, conn, 1000)
    run_sync(engine, conn, lambda tx: tx.execute("UPDATE rooms SET slow_mode = 60 WHERE id = 'r1'"))
    statements.clear()
    outcomes = send_batch(engine, conn, 2000)
    assert any("MAX(ts)" in s for s in statements)
    assert [o.refused for o in outcomes] == ["slow mode"] * 2
