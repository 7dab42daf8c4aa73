"""Replies and threads (rich messages).

- ``messages.reply_to``: the message this one answers (same room), quoted
  when the message is shown;
- ``messages.thread``: the first message of the chain a reply belongs to
  (NULL for a message that answers nothing);
- ``messages.replies`` / ``last_reply``: on a chain's first message, how
  many replies it has and when the last one came (ms).
"""


def upgrade(tx, engine):
    tx.execute("ALTER TABLE messages ADD COLUMN reply_to TEXT")
    tx.execute("ALTER TABLE messages ADD COLUMN thread TEXT")
    tx.execute("ALTER TABLE messages ADD COLUMN replies INTEGER NOT NULL DEFAULT 0")
    tx.execute("ALTER TABLE messages ADD COLUMN last_reply BIGINT")
    tx.execute("CREATE INDEX messages_by_thread ON messages (room, thread, id)")
