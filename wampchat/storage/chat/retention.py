"""
Message retention: messages older than their room keeps them are deleted with every row that hangs on them.

A room keeps messages ``rooms.retention_days`` days, or the server's
default where that is 0; 0 both ways keeps them forever. One call deletes at
most ``limit`` messages in its transaction and says which room to go on
from, so a huge backlog is many short transactions, never one long one.

What goes with a message: its mentions, reactions and files, and (SQLite) its
full-text index entry or its place in the queue of messages waiting to be
indexed, which the delete triggers of migration v004 remove. Those two
triggers cannot both be right for a message still waiting (whichever fires
second sees the first's work, and an FTS5 'delete' of a row never indexed
corrupts the index), so a batch first indexes whatever waits, as a search
does, and deletes only indexed messages. The message row is deleted first: on PostgreSQL that waits for an edit or a
reaction holding its lock, and the mentions and reactions deleted after it
then include what that change committed. Reports keep their own copy of the
text and stay; read markers are ids compared as strings, so one that points
at a deleted message still says what is read and what is not.

Expiry is by the message id's milliseconds (13 digits, never less than the
sender's ``ts``) together with ``ts``, so the room's index on (room, id)
finds the old messages without reading the rest.
"""
from wampchat.storage.chat.files import delete_files_of
from wampchat.storage.chat.search import index_messages

DAY_MS = 24 * 60 * 60 * 1000
IDS_PER_STATEMENT = 500   # message ids in one IN list: within every engine's parameter limit


def delete_expired(tx, default_days: int, now_ms: int, limit: int, from_room: str = "") -> tuple:
    """Delete up to ``limit`` expired messages, room by room from ``from_room`` on (rooms by id).

    Returns (how many were deleted, the room id to call again from), the
    room being None when no room from ``from_room`` on has expired
    messages left.
    """
    deleted = 0
    for room_id, days in kept_days(tx, default_days, from_room):
        cutoff = now_ms - days * DAY_MS
        if cutoff <= 0:
            continue
        ids = expired_ids(tx, room_id, cutoff, limit - deleted)
        delete_messages(tx, ids)
        deleted += len(ids)
        if deleted >= limit:
            return deleted, room_id
    return deleted, None


def kept_days(tx, default_days: int, from_room: str) -> list:
    """[(room id, days its messages are kept)] of the rooms from ``from_room`` on that delete anything."""
    where = "id >= ?" if default_days > 0 else "id >= ? AND retention_days > 0"
    rows = tx.query(f"SELECT id, retention_days FROM rooms WHERE {where} ORDER BY id", (from_room,))
    return [(r["id"], r["retention_days"] or default_days) for r in rows]


def expired_ids(tx, room_id: str, cutoff_ms: int, limit: int) -> list:
    """The ids of up to ``limit`` of the room's oldest messages sent before ``cutoff_ms``."""
    rows = tx.query("SELECT id FROM messages WHERE room = ? AND id < ? AND ts < ? ORDER BY id LIMIT ?",
                    (room_id, f"{cutoff_ms:013d}", cutoff_ms, limit))
    return [r["id"] for r in rows]


def delete_messages(tx, ids: list) -> None:
    """Delete the messages ``ids`` and their mentions, reactions and files (the triggers take their search
    rows)."""
    if ids:
        index_messages(tx)
    for start in range(0, len(ids), IDS_PER_STATEMENT):
        chunk = ids[start:start + IDS_PER_STATEMENT]
        marks = ", ".join("?" * len(chunk))
        tx.execute(f"DELETE FROM messages WHERE id IN ({marks})", chunk)
        tx.execute(f"DELETE FROM reactions WHERE message_id IN ({marks})", chunk)
        tx.execute(f"DELETE FROM mentions WHERE message_id IN ({marks})", chunk)
        tx.execute(f"DELETE FROM pins WHERE message_id IN ({marks})", chunk)
        delete_files_of(tx, chunk)
