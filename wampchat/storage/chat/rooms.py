"""
Rooms and direct-message rooms, and the room list a user sees.
"""
from wampchat.storage.chat.dm_ids import dm_key, dm_room_ids
from wampchat.storage.chat.members import add_member, read_marker
from wampchat.storage.chat.rows import message_dict, room_dict
from wampchat.storage.errors import Conflict

ROOMS_PAGE = 500   # rooms one chat.room.list answer holds at most


def ensure_room(tx, room_id, title, private, owner, created, dm_key=None):
    """Insert a room unless its id is taken; whether it was inserted."""
    tx.execute("INSERT INTO rooms (id, title, private, owner, created, dm_key) VALUES (?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (id) DO NOTHING", (room_id, title, bool(private), owner, created, dm_key))
    return tx.rowcount == 1


def create_room(tx, room_id, title, private, owner, created, members):
    """A new room with its first members (its owner among them with role ``owner``); False if the id is taken."""
    if not ensure_room(tx, room_id, title, private, owner, created):
        return False
    for user in members:
        add_member(tx, room_id, user, created)
    return True


def get_room(tx, room_id):
    row = tx.one("SELECT * FROM rooms WHERE id = ?", (room_id,))
    return room_dict(row) if row is not None else None


def open_dm(tx, caller, other, now):
    """The DM room of two users, made if there is none, with ``caller`` a member: (Room, created).

    The room is found by its key (the pair), never by its id, so no other
    pair's room is ever returned, and a member who left it is a member again.
    """
    key = dm_key(caller, other)
    row = tx.one("SELECT * FROM rooms WHERE dm_key = ?", (key,))
    if row is not None:
        add_member(tx, row["id"], caller, now)
        return room_dict(row), False
    first, second = sorted((caller, other))
    for room_id in dm_room_ids(caller, other):
        if ensure_room(tx, room_id, f"{first} & {second}", True, None, now, key):
            for user in (first, second):
                add_member(tx, room_id, user, now)
            return get_room(tx, room_id), True
        taken = tx.one("SELECT * FROM rooms WHERE id = ?", (room_id,))
        if taken is not None and taken["dm_key"] == key:   # another node made it a moment ago
            add_member(tx, room_id, caller, now)
            return room_dict(taken), False
    raise Conflict(f"no free id for the direct messages of {first} and {second}")


def find_dm(tx, a, b):
    """The DM room of two users, or None when they have none yet."""
    row = tx.one("SELECT * FROM rooms WHERE dm_key = ?", (dm_key(a, b),))
    return room_dict(row) if row is not None else None


def visible_rooms(tx, user, after=None, limit=ROOMS_PAGE):
    """Public rooms and the private rooms ``user`` belongs to, with unread, last message and membership: up to
    ``limit`` of them, oldest first, after the room ``after`` (a page; None for the first)."""
    where, params = ["(NOT r.private OR m.username IS NOT NULL)"], [user]
    if after is not None:
        start = tx.one("SELECT created FROM rooms WHERE id = ?", (after,))
        where.append("(r.created > ? OR (r.created = ? AND r.id > ?))")
        params += [start["created"] if start else -1, start["created"] if start else -1, after]
    rows = tx.query("SELECT r.*, m.username AS member, m.notify AS notify FROM rooms r LEFT JOIN members m "
                    f"ON m.room = r.id AND m.username = ? WHERE {' AND '.join(where)} "
                    "ORDER BY r.created, r.id LIMIT ?", params + [limit])
    return [_room_summary(tx, user, row) for row in rows]


def _room_summary(tx, user, row):
    """One entry of the room list: the Room, what ``user`` has not read of it, its last message."""
    room = room_dict(row)
    since = read_marker(tx, room["id"], user)
    unread = tx.one("SELECT COUNT(*) AS n FROM messages WHERE room = ? AND id > ? AND NOT deleted "
                    "AND username != ?", (room["id"], since, user))["n"]
    mentions = tx.one("SELECT COUNT(*) AS n FROM mentions WHERE username = ? AND room = ? AND message_id > ?",
                      (user, room["id"], since))["n"] if unread else 0
    last = tx.one("SELECT * FROM messages WHERE room = ? ORDER BY id DESC LIMIT 1", (room["id"],))
    return dict(room, unread=unread, mentions=mentions,
                last_message=message_dict(last) if last is not None else None,
                member=row["member"] is not None, notify=row["notify"] or "all")
