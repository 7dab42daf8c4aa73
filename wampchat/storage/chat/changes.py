"""
What every change to a stored message takes: the message's row locked, then the room's next change number.

Edits, deletes and reactions all go through here, in that order (sends lock
only rooms), so two changes never wait on each other in a circle, and a
room's change numbers commit in the order they were taken.
"""


def locked_message(tx, room_id, message_id):
    """The message's row, locked until commit (on PostgreSQL); None if there is none."""
    return tx.one(f"SELECT * FROM messages WHERE id = ? AND room = ?{tx.engine.for_update}", (message_id, room_id))


def next_change(tx, room_id):
    """The room's next change number; the room's row stays locked until commit, so numbers commit in order."""
    return tx.one("UPDATE rooms SET changes = changes + 1 WHERE id = ? RETURNING changes AS n", (room_id,))["n"]


def room_changes(tx, room_id):
    """The room's last change number: the cursor a client catches up from."""
    return tx.one("SELECT changes FROM rooms WHERE id = ?", (room_id,))["changes"]
