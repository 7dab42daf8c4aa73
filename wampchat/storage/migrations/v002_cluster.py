"""Per-room message order, a global message counter, presence of every node, display-name keys.

- ``rooms.last_ms`` / ``rooms.last_seq``: the room's message clock. A send
  reads and advances it in its own transaction (the row stays locked until
  commit), so within a room ids sort in commit order on any number of nodes.
  Existing rooms start from their newest message id.
- ``counters`` (SQLite) / ``message_numbers`` (PostgreSQL): the suffix that
  makes ids unique across rooms.
- ``nodes`` / ``online``: which node is alive (heartbeat) and who is online
  on it, so presence is one for the cluster and a dead node's users go
  offline.
- ``users.display_key``: the case-folded display name, so a guest nick is
  checked against registered names with an index, not a scan.
- ``messages_by_user``: a user's recent messages, for the send rate limit
  that holds across nodes.
- The ``user`` columns become ``username`` (``user`` is reserved in SQL).
"""
COMMON = """
ALTER TABLE members RENAME COLUMN {user} TO username;
ALTER TABLE messages RENAME COLUMN {user} TO username;
ALTER TABLE reads RENAME COLUMN {user} TO username;
ALTER TABLE rooms ADD COLUMN last_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET
    last_ms = COALESCE((SELECT CAST(substr(MAX(id), 1, 13) AS BIGINT) FROM messages WHERE messages.room = rooms.id), 0),
    last_seq = COALESCE((SELECT CAST(substr(MAX(id), 14, 4) AS INTEGER) FROM messages WHERE messages.room = rooms.id), 0);
ALTER TABLE users ADD COLUMN display_key TEXT;
CREATE INDEX users_by_display_key ON users (display_key);
CREATE INDEX members_by_user ON members (username);
CREATE INDEX messages_by_user ON messages (username, ts);
CREATE TABLE nodes (
    node TEXT PRIMARY KEY, instance TEXT NOT NULL, started BIGINT NOT NULL, heartbeat BIGINT NOT NULL);
CREATE TABLE online (
    username TEXT NOT NULL, node TEXT NOT NULL, role TEXT NOT NULL, nick TEXT NOT NULL, nick_key TEXT NOT NULL,
    PRIMARY KEY (username, node));
CREATE INDEX online_by_node ON online (node);
CREATE INDEX online_by_nick ON online (nick_key);
"""

SQLITE = """
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters (name, value) VALUES ('message', 0);
"""

POSTGRES = """
CREATE SEQUENCE message_numbers;
"""


def upgrade(tx, engine):
    postgres = engine.name == "postgresql"
    tx.run_script(COMMON.format(user='"user"' if postgres else "user"))
    tx.run_script(POSTGRES if postgres else SQLITE)
    for row in tx.query("SELECT username, display_name FROM users"):
        tx.execute("UPDATE users SET display_key = ? WHERE username = ?",
                   (display_key(row["display_name"] or row["username"]), row["username"]))


def display_key(name):
    """How names are compared for uniqueness: case-folded (Unicode-aware, unlike SQL's lower())."""
    return name.casefold()
