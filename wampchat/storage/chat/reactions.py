"""
Reactions: one row per user, emoji and message.
"""
from wampchat.storage.chat.changes import locked_message, next_change
from wampchat.storage.chat.files import with_files
from wampchat.storage.chat.replies import with_replies
from wampchat.storage.chat.rows import message_dict

REACTION_KINDS_MAX = 50  # different emoji on one message; a reaction past that is refused


class ReactionRefused(Exception):
    """The message already has :data:`REACTION_KINDS_MAX` different emoji."""


def with_reactions(tx, messages):
    """Give each Message (dicts, changed in place) its ``reactions``: {emoji: [usernames]}, in the order
    they were first given; one query for the whole page. Messages without reactions get no key."""
    if not messages:
        return messages
    by_id = {m["id"]: m for m in messages}
    marks = ", ".join("?" * len(by_id))
    rows = tx.query(f"SELECT message_id, emoji, username FROM reactions WHERE message_id IN ({marks}) "
                    "ORDER BY created, emoji, username", list(by_id))
    for row in rows:
        by_id[row["message_id"]].setdefault("reactions", {}).setdefault(row["emoji"], []).append(row["username"])
    return messages


def react(tx, room_id, message_id, user, emoji, on, now):
    """Add or take back ``user``'s ``emoji`` on a message: (Message, whether anything changed), or None
    when there is no such message (or it is deleted)."""
    row = locked_message(tx, room_id, message_id)
    if row is None or row["deleted"]:
        return None
    if on:
        kinds = tx.query("SELECT DISTINCT emoji FROM reactions WHERE message_id = ?", (message_id,))
        if len(kinds) >= REACTION_KINDS_MAX and emoji not in {k["emoji"] for k in kinds}:
            raise ReactionRefused(f"a message can carry at most {REACTION_KINDS_MAX} different reactions")
        tx.execute("INSERT INTO reactions (message_id, emoji, username, room, created) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (message_id, emoji, username) DO NOTHING", (message_id, emoji, user, room_id, now))
    else:
        tx.execute("DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND username = ?",
                   (message_id, emoji, user))
    changed = tx.rowcount == 1
    if changed:
        tx.execute("UPDATE messages SET changed = ? WHERE id = ?", (next_change(tx, room_id), message_id))
    message = with_replies(tx, with_files(tx, with_reactions(tx, [message_dict(row)])))[0]
    message.setdefault("reactions", {})
    return message, changed


def drop_reactions(tx, message_id):
    """A deleted message's reactions go with its text."""
    tx.execute("DELETE FROM reactions WHERE message_id = ?", (message_id,))
