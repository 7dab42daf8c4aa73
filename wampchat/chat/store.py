"""
The chat store: users, rooms, members, messages and read markers, on either engine.

The functions taking ``tx`` are plain SQL in one transaction (shared with
``wampchat-admin``); :class:`ChatStore` runs them on the database threads
and returns Deferreds. Nothing here is cached: every node of a cluster sees
what another committed as soon as it committed. Sends are in
:mod:`wampchat.chat.sends` (group commit), presence in
:mod:`wampchat.chat.online`.
"""
from wampchat.chat.model import message_dict, name_key, room_dict
from wampchat.router.credentials import Credentials
from wampchat.storage import Conflict


# -- users ---------------------------------------------------------------------------
def add_user(tx, creds, display_name, created):
    """Insert a user; Conflict (from the database) when the name is taken."""
    tx.execute(
        "INSERT INTO users (username, role, display_name, display_key, password_hash, cra_salt, cra_key, "
        "cra_iterations, cra_keylen, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (creds.authid, creds.role, display_name, name_key(display_name or creds.authid), creds.password_hash,
         creds.cra_salt, creds.cra_key, creds.cra_iterations, creds.cra_keylen, created),
    )


def get_user(tx, username):
    return tx.one("SELECT * FROM users WHERE username = ?", (username,))


def update_user(tx, username, role=None, display_name=None):
    """Change a user's role and/or display name; False when there is no such user."""
    if role is not None:
        tx.execute("UPDATE users SET role = ? WHERE username = ?", (role, username))
    if display_name is not None:
        tx.execute("UPDATE users SET display_name = ?, display_key = ? WHERE username = ?",
                   (display_name, name_key(display_name), username))
    return get_user(tx, username) is not None


def list_users(tx):
    return tx.query("SELECT username, role, display_name FROM users ORDER BY username")


def _credentials(tx, authid):
    row = get_user(tx, authid)
    if row is None:
        return None
    return Credentials(row["username"], row["role"], row["password_hash"], row["cra_salt"], row["cra_key"],
                       row["cra_iterations"], row["cra_keylen"])


def _display_name(tx, username):
    row = tx.one("SELECT display_name FROM users WHERE username = ?", (username,))
    return None if row is None else row["display_name"] or username


def name_in_use(tx, key, guest):
    """Is ``key`` (a case-folded nick) a user's name or display name, or shown by another online guest?"""
    if tx.one("SELECT 1 AS x FROM users WHERE username = ? OR display_key = ?", (key, key)) is not None:
        return True
    return tx.one("SELECT 1 AS x FROM online WHERE nick_key = ? AND username != ?", (key, guest)) is not None


# -- rooms -----------------------------------------------------------------------------
def ensure_room(tx, room_id, title, private, owner, created):
    tx.execute("INSERT INTO rooms (id, title, private, owner, created) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (id) DO NOTHING", (room_id, title, bool(private), owner, created))
    return tx.rowcount == 1


def add_member(tx, room_id, user, joined):
    tx.execute("INSERT INTO members (room, username, joined) VALUES (?, ?, ?) ON CONFLICT (room, username) "
               "DO NOTHING", (room_id, user, joined))
    return tx.rowcount == 1


def _create_room(tx, room_id, title, private, owner, created, members):
    if not ensure_room(tx, room_id, title, private, owner, created):
        return False
    for user in members:
        add_member(tx, room_id, user, created)
    return True


def _get_room(tx, room_id):
    row = tx.one("SELECT * FROM rooms WHERE id = ?", (room_id,))
    return room_dict(row) if row is not None else None


def is_member(tx, room_id, user):
    return tx.one("SELECT 1 AS x FROM members WHERE room = ? AND username = ?", (room_id, user)) is not None


def member_names(tx, room_id):
    return [r["username"] for r in tx.query("SELECT username FROM members WHERE room = ? ORDER BY username",
                                            (room_id,))]


def _members(tx, room_id):
    """(username, display name or None, nick shown online on some node or None) of every member, by name."""
    rows = tx.query("SELECT m.username AS username, u.display_name AS display_name, "
                    "(SELECT o.nick FROM online o WHERE o.username = m.username ORDER BY o.node LIMIT 1) AS nick "
                    "FROM members m LEFT JOIN users u ON u.username = m.username WHERE m.room = ? "
                    "ORDER BY m.username", (room_id,))
    return [(r["username"], r["display_name"], r["nick"]) for r in rows]


def _known_user(tx, username):
    """A user's display name, or the nick of an online guest; None for nobody."""
    name = _display_name(tx, username)
    if name is None:
        row = tx.one("SELECT nick FROM online WHERE username = ? ORDER BY node LIMIT 1", (username,))
        name = row["nick"] if row is not None else None
    return name


def _remove_member(tx, room_id, user):
    tx.execute("DELETE FROM members WHERE room = ? AND username = ?", (room_id, user))
    removed = tx.rowcount == 1
    tx.execute("DELETE FROM reads WHERE room = ? AND username = ?", (room_id, user))
    return removed


def rooms_of(tx, user):
    """The rooms ``user`` is a member of: [(room id, member list if private else None)]."""
    rows = tx.query("SELECT r.id AS id, r.private AS private FROM members m JOIN rooms r ON r.id = m.room "
                    "WHERE m.username = ? ORDER BY r.id", (user,))
    return [(r["id"], member_names(tx, r["id"]) if r["private"] else None) for r in rows]


def remove_memberships(tx, user):
    """Drop every membership and read marker of ``user`` (a guest that left); returns rooms_of before."""
    rooms = rooms_of(tx, user)
    tx.execute("DELETE FROM members WHERE username = ?", (user,))
    tx.execute("DELETE FROM reads WHERE username = ?", (user,))
    return rooms


def _visible_rooms(tx, user):
    """Public rooms and the private rooms ``user`` belongs to, with unread, last message and membership."""
    rows = tx.query("SELECT r.*, m.username AS member FROM rooms r LEFT JOIN members m "
                    "ON m.room = r.id AND m.username = ? WHERE NOT r.private OR m.username IS NOT NULL "
                    "ORDER BY r.created, r.id", (user,))
    result = []
    for row in rows:
        room = room_dict(row)
        marker = tx.one("SELECT message_id FROM reads WHERE room = ? AND username = ?", (room["id"], user))
        unread = tx.one("SELECT COUNT(*) AS n FROM messages WHERE room = ? AND id > ? AND NOT deleted "
                        "AND username != ?", (room["id"], marker["message_id"] if marker else "", user))["n"]
        last = tx.one("SELECT * FROM messages WHERE room = ? ORDER BY id DESC LIMIT 1", (room["id"],))
        result.append(dict(room, unread=unread, last_message=message_dict(last) if last is not None else None,
                           member=row["member"] is not None))
    return result


# -- messages --------------------------------------------------------------------------
def _message(tx, room_id, message_id):
    row = tx.one("SELECT * FROM messages WHERE id = ? AND room = ?", (message_id, room_id))
    return message_dict(row) if row is not None else None


def _edit_message(tx, room_id, message_id, text, edited):
    tx.execute("UPDATE messages SET text = ?, edited = ? WHERE id = ? AND room = ? AND NOT deleted",
               (text, edited, message_id, room_id))
    return _message(tx, room_id, message_id)


def _delete_message(tx, room_id, message_id):
    tx.execute("UPDATE messages SET deleted = ?, text = '' WHERE id = ? AND room = ?", (True, message_id, room_id))


def _history(tx, room_id, before, after, limit):
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
    rows = rows[:limit]
    if order == "DESC":
        rows.reverse()
    return {"messages": [message_dict(r) for r in rows], "more": more}


def _mark_read(tx, room_id, user, message_id):
    """Move the read marker forward only; returns the marker now stored."""
    row = tx.one("SELECT message_id FROM reads WHERE room = ? AND username = ?", (room_id, user))
    if row is not None and row["message_id"] >= message_id:
        return row["message_id"]
    tx.execute("INSERT INTO reads (room, username, message_id) VALUES (?, ?, ?) ON CONFLICT (room, username) "
               "DO UPDATE SET message_id = excluded.message_id", (room_id, user, message_id))
    return message_id


class ChatStore:
    """Asynchronous access to the chat tables (every method returns a Deferred)."""

    def __init__(self, database):
        self.database = database
        self._run = database.run

    @property
    def engine(self):
        return self.database.engine

    def close(self):
        self.database.close()

    # -- users ------------------------------------------------------------------------
    def add_user(self, creds, display_name, created):
        """Insert a user; fails with :class:`~wampchat.storage.Conflict` when the name is taken."""
        return self._run(add_user, creds, display_name, created)

    def get_user(self, username):
        return self._run(lambda tx: _row_dict(get_user(tx, username)))

    def get_credentials(self, authid):
        """The router's credentials provider interface (read per login, so changes apply at once)."""
        return self._run(_credentials, authid)

    def display_name(self, username):
        """A registered user's display name, or None when there is no such user."""
        return self._run(_display_name, username)

    def known_user(self, username):
        return self._run(_known_user, username)

    def name_in_use(self, key, guest):
        return self._run(name_in_use, key, guest)

    # -- rooms --------------------------------------------------------------------------
    def create_room(self, room_id, title, private, owner, created, members=()):
        """Create a room with its first members; False if the id is taken."""
        return self._run(_create_room, room_id, title, private, owner, created, list(members))

    def get_room(self, room_id):
        return self._run(_get_room, room_id)

    def is_member(self, room_id, user):
        return self._run(is_member, room_id, user)

    def member_names(self, room_id):
        return self._run(member_names, room_id)

    def members(self, room_id):
        return self._run(_members, room_id)

    def add_member(self, room_id, user, joined):
        return self._run(add_member, room_id, user, joined)

    def remove_member(self, room_id, user):
        return self._run(_remove_member, room_id, user)

    def rooms_of(self, user):
        return self._run(rooms_of, user)

    def visible_rooms(self, user):
        return self._run(_visible_rooms, user)

    # -- messages -------------------------------------------------------------------------
    def get_message(self, room_id, message_id):
        return self._run(_message, room_id, message_id)

    def edit_message(self, room_id, message_id, text, edited):
        return self._run(_edit_message, room_id, message_id, text, edited)

    def delete_message(self, room_id, message_id):
        return self._run(_delete_message, room_id, message_id)

    def history(self, room_id, before=None, after=None, limit=50):
        """Up to ``limit`` messages, oldest first, and whether more lie beyond them.

        With ``after`` (and no ``before``) the page starts right after it
        (catching up); otherwise it ends right before ``before`` or now
        (scrolling back). Ids sort in commit order within a room, so a page
        after an id never skips a message that committed later.
        """
        return self._run(_history, room_id, before, after, limit)

    def mark_read(self, room_id, user, message_id):
        return self._run(_mark_read, room_id, user, message_id)


def _row_dict(row):
    return dict(row) if row is not None else None


__all__ = ["ChatStore", "Conflict", "add_user", "get_user", "update_user", "list_users", "ensure_room",
           "add_member", "rooms_of", "remove_memberships", "member_names", "name_in_use"]
