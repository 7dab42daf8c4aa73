"""Mentions, reactions, full-text search and a per-room change counter.

- ``messages.mentions``: the usernames a message mentions (joined by a
  space), so every Message read back carries them without a join.
- ``mentions``: one row per mentioned user other than the author, for the
  room list's count of unread mentions (indexed by user and room).
- ``reactions``: one row per user, emoji and message (the primary key is
  the "one per user per emoji" rule).
- ``rooms.changes`` / ``messages.changed``: a room's change counter. An
  edit, delete or reaction takes the next number with the room's row locked
  (as a send takes the next id), so ``changed`` sorts in commit order and a
  client catching up with ``changed_after`` never skips a change.
- Search: SQLite gets an FTS5 table over ``messages.text`` with external
  content, kept in step by triggers (an edit or delete updates it in the
  same transaction). An external-content table needs a rowid that never
  moves, and a rowid that is not an INTEGER PRIMARY KEY may change on
  VACUUM, so ``messages`` is rebuilt with ``seq INTEGER PRIMARY KEY`` (the
  message id stays the key everyone uses). PostgreSQL gets a GIN index on
  ``to_tsvector('simple', text)``.

Messages stored before this version keep no mentions (nobody was notified
of them) and are searchable at once.
"""
COMMON = """
ALTER TABLE rooms ADD COLUMN changes BIGINT NOT NULL DEFAULT 0;
CREATE TABLE mentions (
    message_id TEXT {c} NOT NULL, username TEXT NOT NULL, room TEXT NOT NULL, PRIMARY KEY (message_id, username));
CREATE INDEX mentions_by_user ON mentions (username, room, message_id);
CREATE TABLE reactions (
    message_id TEXT {c} NOT NULL, emoji TEXT NOT NULL, username TEXT NOT NULL, room TEXT NOT NULL,
    created BIGINT NOT NULL, PRIMARY KEY (message_id, emoji, username));
"""

SQLITE = """
CREATE TABLE messages_v3 (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, room TEXT NOT NULL REFERENCES rooms(id),
    username TEXT NOT NULL, nick TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL, edited INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0, client_msg_id TEXT, mentions TEXT, changed INTEGER);
INSERT INTO messages_v3 (id, room, username, nick, text, ts, edited, deleted, client_msg_id)
    SELECT id, room, username, nick, text, ts, edited, deleted, client_msg_id FROM messages ORDER BY id;
DROP TABLE messages;
ALTER TABLE messages_v3 RENAME TO messages;
CREATE INDEX messages_by_room ON messages (room, id);
CREATE UNIQUE INDEX messages_idempotent ON messages (room, username, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE INDEX messages_by_user ON messages (username, ts);
CREATE INDEX messages_by_change ON messages (room, changed) WHERE changed IS NOT NULL;
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content='messages', content_rowid='seq', tokenize='unicode61 remove_diacritics 0');
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
"""

# Trigger bodies hold semicolons, so each is one statement of its own (tx.run_script splits on ";\n").
SQLITE_TRIGGERS = [
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text); "
    "INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text); END",
]

POSTGRES = """
ALTER TABLE messages ADD COLUMN mentions TEXT;
ALTER TABLE messages ADD COLUMN changed BIGINT;
CREATE INDEX messages_by_change ON messages (room, changed) WHERE changed IS NOT NULL;
CREATE INDEX messages_text_search ON messages USING GIN (to_tsvector('simple', text));
"""


def upgrade(tx, engine):
    postgres = engine.name == "postgresql"
    tx.run_script(COMMON.format(c='COLLATE "C"' if postgres else ""))
    if postgres:
        tx.run_script(POSTGRES)
        return
    tx.run_script(SQLITE)
    for trigger in SQLITE_TRIGGERS:
        tx.execute(trigger)
