"""SQLite indexes new messages for search in batches, not in each send's transaction.

FTS5 writes a new index segment (and, every few segments, merges them) at
the end of every transaction that adds to it. With group commit that is a
segment per handful of messages: about a quarter of a send transaction's
time on the database thread. New messages are now only noted in
``messages_unindexed`` (one small row each) and put into the index together:
by the send transaction that brings the backlog to
:data:`~wampchat.storage.chat.search.INDEX_BATCH` messages, and by every search
first, so a search still finds a message whose send has returned.

An edit or delete of a message still waiting changes nothing in the index
(it gets the text as it is when indexed); of an indexed one it updates the
index in the same transaction, as before. PostgreSQL keeps its GIN index,
which it maintains itself; this version changes nothing there.
"""

SQLITE_STATEMENTS = [
    "CREATE TABLE messages_unindexed (seq INTEGER PRIMARY KEY)",
    "DROP TRIGGER messages_fts_insert",
    "DROP TRIGGER messages_fts_delete",
    "DROP TRIGGER messages_fts_update",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_unindexed (seq) VALUES (new.seq); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages "
    "WHEN NOT EXISTS (SELECT 1 FROM messages_unindexed WHERE seq = old.seq) BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text); END",
    "CREATE TRIGGER messages_unindexed_delete AFTER DELETE ON messages "
    "WHEN EXISTS (SELECT 1 FROM messages_unindexed WHERE seq = old.seq) BEGIN "
    "DELETE FROM messages_unindexed WHERE seq = old.seq; END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages "
    "WHEN NOT EXISTS (SELECT 1 FROM messages_unindexed WHERE seq = old.seq) BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text); "
    "INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text); END",
]


def upgrade(tx, engine):
    if engine.name == "postgresql":
        return
    for statement in SQLITE_STATEMENTS:
        tx.execute(statement)
