"""
Who belongs to which room, and how far each member has read.
"""
MEMBERS_PAGE = 1000  # members one answer lists at most (a join, chat.room.members); the rest by ``after``


def add_member(tx, room_id, user, joined):
    """Make ``user`` a member; False when they were one already. The room's creator is its ``owner`` (also
    on rejoining), anyone else a ``member``."""
    tx.execute("INSERT INTO members (room, username, joined, role) VALUES (?, ?, ?, CASE WHEN "
               "(SELECT owner FROM rooms WHERE id = ?) = ? THEN 'owner' ELSE 'member' END) "
               "ON CONFLICT (room, username) DO NOTHING", (room_id, user, joined, room_id, user))
    return tx.rowcount == 1


def is_member(tx, room_id, user):
    return tx.one("SELECT 1 AS x FROM members WHERE room = ? AND username = ?", (room_id, user)) is not None


def member_names(tx, room_id):
    return [r["username"] for r in tx.query("SELECT username FROM members WHERE room = ? ORDER BY username",
                                            (room_id,))]


def members_page(tx, room_id, after=None, limit=MEMBERS_PAGE):
    """(username, display name or None, nick shown online on some node or None, room role) of up to ``limit``
    members, by name, after the name ``after``."""
    rows = tx.query("SELECT m.username AS username, u.display_name AS display_name, m.role AS role, "
                    "(SELECT o.nick FROM online o WHERE o.username = m.username ORDER BY o.node LIMIT 1) AS nick "
                    "FROM members m LEFT JOIN users u ON u.username = m.username WHERE m.room = ? AND m.username > ? "
                    "ORDER BY m.username LIMIT ?", (room_id, after or "", limit))
    return [(r["username"], r["display_name"], r["nick"], r["role"]) for r in rows]


def readers(tx, room_id):
    """Who may read a room, for mentions: a private room's members, or None (every user) for a public room."""
    room = tx.one("SELECT private FROM rooms WHERE id = ?", (room_id,))
    if room is None or not room["private"]:
        return None
    return set(member_names(tx, room_id))


def remove_member(tx, room_id, user):
    """End a membership and its read marker; False when there was none."""
    tx.execute("DELETE FROM members WHERE room = ? AND username = ?", (room_id, user))
    removed = tx.rowcount == 1
    tx.execute("DELETE FROM reads WHERE room = ? AND username = ?", (room_id, user))
    return removed


def rooms_of(tx, user, joined_before=None):
    """The rooms ``user`` is a member of (since before ``joined_before`` ms, if given):
    [(room id, member list if private else None)]."""
    since = "" if joined_before is None else " AND m.joined < ?"
    params = (user,) if joined_before is None else (user, joined_before)
    rows = tx.query("SELECT r.id AS id, r.private AS private FROM members m JOIN rooms r ON r.id = m.room "
                    f"WHERE m.username = ?{since} ORDER BY r.id", params)
    return [(r["id"], member_names(tx, r["id"]) if r["private"] else None) for r in rows]


def remove_memberships(tx, user):
    """Drop every membership and read marker of ``user`` (a guest that left); returns rooms_of before."""
    rooms = rooms_of(tx, user)
    tx.execute("DELETE FROM members WHERE username = ?", (user,))
    tx.execute("DELETE FROM reads WHERE username = ?", (user,))
    return rooms


def mark_read(tx, room_id, user, message_id):
    """Move the read marker forward only; returns the marker now stored."""
    row = tx.one("SELECT message_id FROM reads WHERE room = ? AND username = ?", (room_id, user))
    if row is not None and row["message_id"] >= message_id:
        return row["message_id"]
    tx.execute("INSERT INTO reads (room, username, message_id) VALUES (?, ?, ?) ON CONFLICT (room, username) "
               "DO UPDATE SET message_id = excluded.message_id", (room_id, user, message_id))
    return message_id


def read_marker(tx, room_id, user):
    """The id of the last message ``user`` read in the room ("" for none)."""
    row = tx.one("SELECT message_id FROM reads WHERE room = ? AND username = ?", (room_id, user))
    return row["message_id"] if row else ""


def furthest_reads(tx, room_id, limit=MEMBERS_PAGE):
    """{user: message id} of the ``limit`` read markers furthest on (the rest are behind what a page shows)."""
    return {r["username"]: r["message_id"] for r in tx.query(
        "SELECT username, message_id FROM reads WHERE room = ? ORDER BY message_id DESC LIMIT ?", (room_id, limit))}


NOTIFY_LEVELS = ("all", "mentions", "none")


def set_notify(tx, room_id, user, level) -> bool:
    """A member's notification level for the room; False when ``user`` is not a member."""
    tx.execute("UPDATE members SET notify = ? WHERE room = ? AND username = ?", (level, room_id, user))
    return tx.rowcount == 1


def silenced(tx, room_id, users) -> set:
    """Those of ``users`` who asked to hear nothing of the room (level ``none``)."""
    users = list(users)
    if not users:
        return set()
    rows = tx.query(f"SELECT username FROM members WHERE room = ? AND notify = 'none' AND username IN "
                    f"({', '.join('?' * len(users))})", [room_id, *users])
    return {r["username"] for r in rows}
