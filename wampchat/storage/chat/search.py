"""
Full-text search of messages, and the parts of it each engine does its own way.

SQLite searches an FTS5 table (``messages_fts``) that new messages reach in
batches: a send only notes its messages in ``messages_unindexed`` (a
trigger), and they are indexed together, by the send that brings the
backlog to :data:`INDEX_BATCH` and by every search first, so a search
still finds a message whose send has returned. PostgreSQL searches the GIN
index on ``to_tsvector('simple', text)``, which it keeps in step itself.
"""
import weakref

from wampchat.storage.chat.message_objects import messages_of
from wampchat.storage.chat.messages import within_budget

INDEX_BATCH = 256   # SQLite: new messages indexed for search together, in one FTS5 segment


class _SqliteSearch:
    """FTS5, fed in batches."""

    def __init__(self):
        # messages each engine's process stored and has not indexed (one writer: an estimate that only
        # decides when to index; a search indexes whatever waits)
        self._unindexed = weakref.WeakKeyDictionary()

    def stored(self, tx, count):
        waiting = self._unindexed.get(tx.engine, 0) + count
        self._unindexed[tx.engine] = waiting
        if waiting >= INDEX_BATCH:
            self.index(tx)

    def index(self, tx):
        tx.execute("INSERT INTO messages_fts (rowid, text) "
                   "SELECT m.seq, m.text FROM messages_unindexed u JOIN messages m ON m.seq = u.seq")
        tx.execute("DELETE FROM messages_unindexed")
        self._unindexed[tx.engine] = 0

    @staticmethod
    def match(query):
        """The FTS5 table, joined on the row it indexes."""
        return "JOIN messages_fts ON messages_fts.rowid = m.seq", "messages_fts MATCH ?", query.fts5()


class _PostgresSearch:
    """The GIN index, kept in step with each insert by PostgreSQL itself."""

    def stored(self, tx, count):
        """Nothing waits to be indexed."""

    def index(self, tx):
        """Nothing waits to be indexed."""

    @staticmethod
    def match(query):
        """The very expression the GIN index is built on, so the index answers it."""
        return "", "to_tsvector('simple', m.text) @@ to_tsquery('simple', ?)", query.tsquery()


_BY_ENGINE = {"sqlite": _SqliteSearch(), "postgresql": _PostgresSearch()}


def stored_messages(tx, count):
    """``count`` new messages were stored in ``tx`` (a send batch): index them when the engine wants it now."""
    _BY_ENGINE[tx.engine.name].stored(tx, count)


def index_messages(tx):
    """Put every message still waiting into the full-text index (SQLite; before a search, and in batches)."""
    _BY_ENGINE[tx.engine.name].index(tx)


def search(tx, user, query, room_id, before, limit):
    """Messages matching ``query`` (a parsed SearchQuery), newest first, only in rooms ``user`` may read.

    The rule is in the SQL itself (public rooms, and private rooms with
    ``user`` among the members), so no page ever holds a message to filter
    out afterwards, and ``more`` is true only when readable hits remain.
    """
    engine_search = _BY_ENGINE[tx.engine.name]
    engine_search.index(tx)   # SQLite indexes new messages in batches: take in those still waiting
    join, condition, parameter = engine_search.match(query)
    where, params = [condition, "NOT m.deleted"], [parameter]
    if room_id is not None:
        where.append("m.room = ?")
        params.append(room_id)
    if before is not None:
        where.append("m.id < ?")
        params.append(before)
    where.append("(NOT r.private OR EXISTS (SELECT 1 FROM members mb WHERE mb.room = m.room AND mb.username = ?))")
    params.append(user)
    rows = tx.query(f"SELECT m.* FROM messages m {join} JOIN rooms r ON r.id = m.room "
                    f"WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT ?", params + [limit + 1])
    messages, cut = within_budget(messages_of(tx, rows[:limit]))
    return {"messages": messages, "more": len(rows) > limit or cut}
