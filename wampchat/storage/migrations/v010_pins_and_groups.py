"""Pinned messages and per-room notification levels (rich messages).

- ``pins``: the messages pinned in a room (at most 50 a room), who pinned
  them and when.
- ``members.notify``: how much of a room a member wants to be told about
  (``all``, ``mentions``, ``none``); ``none`` also silences mention
  notifications.
Group DMs need no table: they are private rooms found by ``rooms.dm_key``
(the sorted set of their members), like two people's DMs.
"""


def upgrade(tx, engine):
    tx.execute("CREATE TABLE pins (room TEXT NOT NULL, message_id TEXT NOT NULL, by_user TEXT NOT NULL, "
               "ts BIGINT NOT NULL, PRIMARY KEY (room, message_id))")
    tx.execute("ALTER TABLE members ADD COLUMN notify TEXT NOT NULL DEFAULT 'all'")
