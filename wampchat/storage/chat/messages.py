"""
Stored messages: pages of history and of changes, edits and deletes, and the byte budget of an answer.

Sends are :mod:`wampchat.storage.chat.sends` (a batch at a time); every
change here locks the message, then takes the room's next change number
(:mod:`wampchat.storage.chat.changes`).
"""
from wampchat.storage.chat import audit
from wampchat.storage.chat.mentions import mentioned_names
from wampchat.storage.chat.accounts import existing_users
from wampchat.storage.chat.changes import locked_message, next_change, room_changes
from wampchat.storage.chat.files import delete_files_of
from wampchat.storage.chat.message_objects import messages_of
from wampchat.storage.chat.replies import thread_page
from wampchat.storage.chat.members import furthest_reads, readers
from wampchat.storage.chat.pins import drop_pins
from wampchat.storage.chat.reactions import drop_reactions
from wampchat.storage.chat.rows import join_mentions

ANSWER_BUDGET = 512 * 1024   # bytes of messages one answer (a page, a join, a search) may carry
MESSAGE_OVERHEAD = 160       # a Message's keys, id, room, ts and JSON punctuation, about


def encoded_size(message):
    """About how many bytes ``message`` takes in a WAMP answer: its text and names as UTF-8, and its reactions."""
    size = MESSAGE_OVERHEAD + len(message["text"].encode()) + len(message["nick"].encode()) + len(message["user"])
    size += sum(len(str(value).encode()) + 20 for value in message.get("preview", {}).values())
    for emoji, users in message.get("reactions", {}).items():
        size += len(emoji.encode()) + sum(len(user) + 3 for user in users)
    return size


def within_budget(messages, budget=ANSWER_BUDGET):
    """The first of ``messages`` that fit in ``budget`` bytes (at least one) and whether any were cut.

    Counts bound every answer, but a count of long messages can still be
    megabytes; this bounds the bytes too, so a page is at most about half a
    MiB whatever the messages hold, and the caller pages on (``more``).
    """
    used = 0
    for index, message in enumerate(messages):
        used += encoded_size(message)
        if used > budget and index > 0:
            return messages[:index], True
    return messages, False


def get_message(tx, room_id, message_id):
    row = tx.one("SELECT * FROM messages WHERE id = ? AND room = ?", (message_id, room_id))
    return messages_of(tx, [row])[0] if row is not None else None


def resolve_mentions(tx, room_id, text):
    """The users ``text`` mentions who may read ``room_id``."""
    names = mentioned_names(text)
    if not names:
        return []
    allowed = readers(tx, room_id)
    if allowed is None:
        allowed = existing_users(tx, names)
    return [name for name in names if name in allowed]


def _set_mentions(tx, room_id, message_id, author, mentions):
    tx.execute("DELETE FROM mentions WHERE message_id = ?", (message_id,))
    rows = [(message_id, name, room_id) for name in mentions if name != author]
    tx.insert_rows("INSERT INTO mentions (message_id, username, room)", rows)


def edit_message(tx, room_id, message_id, text, edited, keep_preview=False):
    """New text (and the mentions it makes) for a message that is not deleted; the Message after it, or None.
    Its link preview goes unless ``keep_preview`` (the new text links to the same page first)."""
    row = locked_message(tx, room_id, message_id)
    if row is None:
        return None
    if not row["deleted"]:
        mentions = resolve_mentions(tx, room_id, text)
        preview = row["preview"] if keep_preview else None
        tx.execute("UPDATE messages SET text = ?, edited = ?, mentions = ?, preview = ?, changed = ? WHERE id = ?",
                   (text, edited, join_mentions(mentions), preview, next_change(tx, room_id), message_id))
        _set_mentions(tx, room_id, message_id, row["username"], mentions)
    return get_message(tx, room_id, message_id)


def delete_message(tx, room_id, message_id, by_other=None, now=None):
    """Blank a message; its mentions, reactions and files go with its text. Deleted by someone other than its author
    (``by_other``, a moderator), the deletion is written to the audit log."""
    message = locked_message(tx, room_id, message_id)
    if message is None:
        return
    if by_other is not None:
        audit.append(tx, now, by_other, "delete_message", room_id, message["username"], f"message {message_id}")
    tx.execute("UPDATE messages SET deleted = ?, text = '', mentions = NULL, preview = NULL, changed = ? WHERE id = ?",
               (True, next_change(tx, room_id), message_id))
    tx.execute("DELETE FROM mentions WHERE message_id = ?", (message_id,))
    drop_reactions(tx, message_id)
    drop_pins(tx, [message_id])
    delete_files_of(tx, [message_id])


def history(tx, room_id, before, after, limit):
    """A page of a room's messages, oldest first, and ``more`` (see :meth:`ChatStore.history`)."""
    where, params = ["room = ?"], [room_id]
    if after is not None:
        where.append("id > ?")
        params.append(after)
    if before is not None:
        where.append("id < ?")
        params.append(before)
    order = "ASC" if after is not None and before is None else "DESC"
    rows = tx.query(f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?",
                    params + [limit + 1])
    more = len(rows) > limit
    # the rows nearest the cursor (or now) come first either way: a page cut to its byte budget keeps them
    messages, cut = within_budget(messages_of(tx, rows[:limit]))
    if order == "DESC":
        messages.reverse()
    return {"messages": messages, "more": more or cut}


def join_page(tx, room_id, limit):
    """What joining shows: the newest page, the change cursor to catch up from and every read marker.

    The cursor is read before the page: a change committed in between is
    then both in the page and after the cursor (fetched twice, harmless),
    never in neither.
    """
    changes = room_changes(tx, room_id)
    page = history(tx, room_id, None, None, limit)
    return dict(page, changes=changes, reads=furthest_reads(tx, room_id))


def changes_after(tx, room_id, changed_after, limit):
    """Messages edited, deleted or reacted to after the cursor ``changed_after``, in the order that happened."""
    rows = tx.query("SELECT * FROM messages WHERE room = ? AND changed > ? ORDER BY changed LIMIT ?",
                    (room_id, changed_after, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    messages, cut = within_budget(messages_of(tx, rows))
    cursor = rows[len(messages) - 1]["changed"] if messages else changed_after
    return {"messages": messages, "more": more or cut, "changes": cursor}


def thread(tx, room_id, root_id, after, limit):
    """(replies oldest first, more) of the chain of ``root_id`` after ``after``, within the byte budget."""
    rows, more = thread_page(tx, room_id, root_id, after, limit)
    messages, cut = within_budget(messages_of(tx, rows))   # oldest first: the first ones are kept
    return messages, more or cut
