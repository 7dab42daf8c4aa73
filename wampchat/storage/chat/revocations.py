"""
The revocations feed: what every node must do to its own sessions after a moderation or account change.

A kick or ban takes a user's subscriptions to a room away; a server ban, a
changed password or a deleted account ends a user's sessions. The node that
made the change does it to its own sessions at once and appends a row here,
in the change's transaction; every other node reads the new rows every
second (:class:`~wampchat.chat.revocation_feed.RevocationFeed`) and does the
same to its sessions. Rows are read by time with an overlap (an id handed
out earlier may commit later) and are kept an hour.
"""
ROOM = "room"          # take the user's subscriptions to chat.room.<room>.* away
SESSIONS = "sessions"  # end the user's sessions (but ``keep_session``; those joined before ``ts`` only)
KEPT_MS = 3_600_000


def append(tx, ts: int, node: str, kind: str, username: str, room: str | None = None, reason: str | None = None,
           keep_session: int | None = None) -> None:
    tx.execute("INSERT INTO revocations (ts, node, kind, username, room, reason, keep_session) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (ts, node, kind, username, room, reason, keep_session))


def since(tx, ts: int, node: str) -> list:
    """Other nodes' rows stamped after ``ts``, oldest first, as dicts."""
    rows = tx.query("SELECT id, ts, kind, username, room, reason, keep_session FROM revocations "
                    "WHERE ts > ? AND node <> ? ORDER BY id", (ts, node))
    return [dict(row) for row in rows]


def prune(tx, before: int) -> None:
    tx.execute("DELETE FROM revocations WHERE ts < ?", (before,))
