"""Bans, mutes, reports, server bans, the cluster's revocation feed and job leases (moderation, part two).

- ``room_bans``: who may not join, send to, react in or (private rooms)
  read a room, until when (NULL: until unbanned); a banned guest's client
  address is kept too, so a fresh guest id from it is refused as well.
- ``room_mutes``: who may read a room but not send, react or type in it,
  until when; kept apart from ``members`` so leaving and rejoining does not
  lift a mute.
- ``reports``: a message reported to the room's moderators and the admins,
  with a copy of what it said (the message may be deleted meanwhile) and,
  once resolved, who resolved it and how.
- ``server_bans``: accounts (and guests' addresses) that may not log in,
  until when.
- ``revocations``: what every node must apply to its own sessions (end a
  user's sessions, take a user's subscriptions to a private room away); each
  node reads the new rows every second, so a change made on one node holds on
  all of them within seconds.
- ``leases``: a named job (retention) runs on one node of the cluster at a
  time: the node that moves ``until`` forward holds it.
"""

IDENTITY = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
            "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}


def upgrade(tx, engine):
    identity = IDENTITY[engine.name]
    tx.execute("CREATE TABLE room_bans (room TEXT NOT NULL, username TEXT NOT NULL, address TEXT, "
               "by_user TEXT NOT NULL, reason TEXT, ts BIGINT NOT NULL, until BIGINT, PRIMARY KEY (room, username))")
    tx.execute("CREATE INDEX room_bans_by_address ON room_bans (room, address)")
    tx.execute("CREATE TABLE room_mutes (room TEXT NOT NULL, username TEXT NOT NULL, by_user TEXT NOT NULL, "
               "ts BIGINT NOT NULL, until BIGINT, PRIMARY KEY (room, username))")
    tx.execute(f"CREATE TABLE reports (id {identity}, room TEXT NOT NULL, message TEXT NOT NULL, "
               "author TEXT NOT NULL, text TEXT NOT NULL, reporter TEXT NOT NULL, reason TEXT NOT NULL, "
               "ts BIGINT NOT NULL, resolved_by TEXT, resolution TEXT, resolved_ts BIGINT)")
    tx.execute("CREATE INDEX reports_by_room ON reports (room, id)")
    tx.execute("CREATE TABLE server_bans (username TEXT PRIMARY KEY, address TEXT, by_user TEXT NOT NULL, "
               "reason TEXT, ts BIGINT NOT NULL, until BIGINT)")
    tx.execute("CREATE INDEX server_bans_by_address ON server_bans (address)")
    tx.execute(f"CREATE TABLE revocations (id {identity}, ts BIGINT NOT NULL, node TEXT NOT NULL, "
               "kind TEXT NOT NULL, username TEXT NOT NULL, room TEXT, reason TEXT, keep_session BIGINT)")
    tx.execute("CREATE INDEX revocations_by_time ON revocations (ts)")
    tx.execute("CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until BIGINT NOT NULL)")
