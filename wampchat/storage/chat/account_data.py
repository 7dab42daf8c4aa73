"""
What an account owns, for the owner: its export (every message it wrote, the rooms it is in) and its deletion.

A deleted account keeps its ``users`` row (so the name is never given out
again) with ``deleted`` set and its secrets blanked; its messages stay, shown
as :data:`~wampchat.storage.chat.accounts.DELETED_NICK`.
"""
from wampchat.storage.chat import audit
from wampchat.storage.chat.accounts import DELETED_NICK
from wampchat.storage.chat.members import remove_memberships
from wampchat.storage.chat.message_objects import messages_of
from wampchat.storage.chat.messages import within_budget
from wampchat.storage.chat.rows import name_key, room_dict


def member_rooms(tx, user, limit):
    """Up to ``limit`` Rooms ``user`` is a member of, by id, and whether there are more."""
    rows = tx.query("SELECT r.* FROM members m JOIN rooms r ON r.id = m.room WHERE m.username = ? "
                    "ORDER BY r.id LIMIT ?", (user, limit + 1))
    return [room_dict(r) for r in rows[:limit]], len(rows) > limit


def messages_written(tx, user, before, limit):
    """A page of the (not deleted) messages ``user`` wrote in any room, newest first (by id), and ``more``."""
    where, params = "username = ? AND deleted = ?", [user, False]
    if before is not None:
        where += " AND id < ?"
        params.append(before)
    rows = tx.query(f"SELECT * FROM messages WHERE {where} ORDER BY id DESC LIMIT ?", params + [limit + 1])
    messages, cut = within_budget(messages_of(tx, rows[:limit]))
    return messages, len(rows) > limit or cut


def export_page(tx, user, before, limit, rooms_limit):
    """``{rooms, rooms_more, messages, more}``: one page of an account's export."""
    rooms, rooms_more = member_rooms(tx, user, rooms_limit)
    messages, more = messages_written(tx, user, before, limit)
    return {"rooms": rooms, "rooms_more": rooms_more, "messages": messages, "more": more}


def delete_account(tx, user, now):
    """Delete a live account: it can never log in, its messages show :data:`DELETED_NICK`, its memberships end,
    the deletion is audited. The rooms it was in (as :func:`~wampchat.storage.chat.members.rooms_of` gives
    them), or None when there was no such live account."""
    tx.execute("UPDATE users SET deleted = ?, display_name = ?, display_key = ?, password_hash = '', "
               "cra_key = '' WHERE username = ? AND deleted = ?",
               (True, DELETED_NICK, name_key(DELETED_NICK), user, False))
    if tx.rowcount != 1:
        return None
    tx.execute("UPDATE messages SET nick = ? WHERE username = ?", (DELETED_NICK, user))
    tx.execute("UPDATE online SET nick = ?, nick_key = ? WHERE username = ?", (DELETED_NICK, name_key(DELETED_NICK),
                                                                             user))
    rooms = remove_memberships(tx, user)
    audit.append(tx, now, user, "delete_account", target=user)
    return rooms
