"""Room roles, room settings, accounts that can be deleted, and the audit log (moderation and accounts).

- ``members.role``: ``owner`` (the room's creator), ``moderator`` or
  ``member``; existing owners get ``owner``.
- ``rooms``: ``topic``, ``read_only``, ``slow_mode`` (seconds between one
  member's messages, 0 = off) and ``retention_days`` (0 = the server's
  default), changed by ``chat.room.update``.
- ``users.deleted``: a deleted account keeps its row, so its name is never
  given out again, and can never log in.
- ``audit``: one row per moderation or admin action, never changed:
  who, what, where, on whom and why. Its id orders the entries.
"""

AUDIT = {
    "sqlite": "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts BIGINT NOT NULL, "
              "actor TEXT NOT NULL, action TEXT NOT NULL, room TEXT, target TEXT, reason TEXT)",
    "postgresql": "CREATE TABLE audit (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts BIGINT NOT NULL, "
                  "actor TEXT NOT NULL, action TEXT NOT NULL, room TEXT, target TEXT, reason TEXT)",
}


def upgrade(tx, engine):
    false = "FALSE" if engine.name == "postgresql" else "0"
    tx.execute("ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'")
    tx.execute("UPDATE members SET role = 'owner' "
               "WHERE username = (SELECT owner FROM rooms WHERE rooms.id = members.room)")
    tx.execute("ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT ''")
    tx.execute(f"ALTER TABLE rooms ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT {false}")
    tx.execute("ALTER TABLE rooms ADD COLUMN slow_mode INTEGER NOT NULL DEFAULT 0")
    tx.execute("ALTER TABLE rooms ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 0")
    tx.execute(f"ALTER TABLE users ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT {false}")
    tx.execute(AUDIT[engine.name])
    tx.execute("CREATE INDEX audit_by_room ON audit (room, id)")
