"""Pinned messages: at most :data:`PINS_MAX` a room, newest pin first."""
from wampchat.storage.chat.message_objects import messages_of

PINS_MAX = 50


class TooManyPins(Exception):
    """The room has PINS_MAX pins already."""


def pinned_ids(tx, room_id: str) -> list:
    """The ids of the room's pinned messages, newest pin first."""
    return [r["message_id"] for r in tx.query("SELECT message_id FROM pins WHERE room = ? ORDER BY ts DESC, "
                                              "message_id DESC", (room_id,))]


def pin(tx, room_id: str, message_id: str, user: str, on: bool, now: int) -> tuple | None:
    """Pin (``on``) or unpin a live message: (pinned ids now, changed), or None when there is no such message.
    Raises TooManyPins past PINS_MAX."""
    row = tx.one("SELECT deleted FROM messages WHERE id = ? AND room = ?", (message_id, room_id))
    if row is None or row["deleted"]:
        return None
    if on:
        tx.execute("INSERT INTO pins (room, message_id, by_user, ts) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (room, message_id) DO NOTHING", (room_id, message_id, user, now))
        changed = tx.rowcount == 1
        if changed and tx.one("SELECT COUNT(*) AS n FROM pins WHERE room = ?", (room_id,))["n"] > PINS_MAX:
            raise TooManyPins(f"a room holds at most {PINS_MAX} pins; unpin one first")
    else:
        tx.execute("DELETE FROM pins WHERE room = ? AND message_id = ?", (room_id, message_id))
        changed = tx.rowcount == 1
    return pinned_ids(tx, room_id), changed


def pinned_messages(tx, room_id: str) -> list:
    """The room's pinned Messages (with reactions), newest pin first."""
    rows = tx.query("SELECT m.* FROM pins p JOIN messages m ON m.id = p.message_id WHERE p.room = ? "
                    "AND NOT m.deleted ORDER BY p.ts DESC, p.message_id DESC", (room_id,))
    return messages_of(tx, rows)


def drop_pins(tx, message_ids: list) -> None:
    """A deleted message is pinned no more."""
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start:start + 500]
        tx.execute(f"DELETE FROM pins WHERE message_id IN ({', '.join('?' * len(chunk))})", chunk)
