"""
The chat store: SQLite, used only from one database thread.

``ChatStore`` runs every operation with ``adbapi.ConnectionPool.runInteraction``
on a pool of exactly one connection, so writes are serialized in the order
they were asked for (message ids are handed out in that order too) and the
reactor thread never waits on the disk. The functions below taking a cursor
are plain synchronous SQL, shared with the ``wampchat-admin`` command.
"""
import os
import sqlite3

from twisted.enterprise import adbapi

from wampchat.chat.model import message_dict, room_dict
from wampchat.router.credentials import Credentials

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, display_name TEXT,
    password_hash TEXT NOT NULL, cra_salt TEXT NOT NULL, cra_key TEXT NOT NULL,
    cra_iterations INTEGER NOT NULL, cra_keylen INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rooms (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, private INTEGER NOT NULL, owner TEXT, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    room TEXT NOT NULL REFERENCES rooms(id), user TEXT NOT NULL, joined INTEGER NOT NULL,
    PRIMARY KEY (room, user));
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, room TEXT NOT NULL REFERENCES rooms(id), user TEXT NOT NULL, nick TEXT NOT NULL,
    text TEXT NOT NULL, ts INTEGER NOT NULL, edited INTEGER, deleted INTEGER NOT NULL DEFAULT 0,
    client_msg_id TEXT);
CREATE INDEX IF NOT EXISTS messages_by_room ON messages (room, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotent ON messages (room, user, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS reads (
    room TEXT NOT NULL, user TEXT NOT NULL, message_id TEXT NOT NULL, PRIMARY KEY (room, user));
"""


def open_connection(path):
    """A sqlite3 connection with the schema in place (WAL, foreign keys on)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    _prepare(conn)
    return conn


def _prepare(conn):
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    conn.commit()


# -- synchronous operations on a cursor (run in the database thread) --------

def add_user(cur, creds, display_name, created):
    cur.execute(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (creds.authid, creds.role, display_name, creds.password_hash, creds.cra_salt, creds.cra_key,
         creds.cra_iterations, creds.cra_keylen, created),
    )


def get_user(cur, username):
    cur.execute("SELECT * FROM users WHERE username = ?", (username,))
    return cur.fetchone()


def ensure_room(cur, room_id, title, private, owner, created):
    cur.execute("INSERT OR IGNORE INTO rooms VALUES (?, ?, ?, ?, ?)", (room_id, title, int(private), owner, created))
    return cur.rowcount == 1


def add_member(cur, room_id, user, joined):
    cur.execute("INSERT OR IGNORE INTO members VALUES (?, ?, ?)", (room_id, user, joined))
    return cur.rowcount == 1


def _message(cur, message_id):
    cur.execute("SELECT * FROM messages WHERE id = ?", (message_id,))
    return cur.fetchone()


class ChatStore:
    """Asynchronous access to the chat database (every method returns a Deferred)."""

    def __init__(self, path, reactor):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._pool = adbapi.ConnectionPool(
            "sqlite3", path, check_same_thread=False, cp_min=1, cp_max=1, cp_openfun=_prepare,
            cp_reactor=reactor,
        )

    def close(self):
        self._pool.close()

    def _run(self, fn, *args):
        return self._pool.runInteraction(fn, *args)

    # -- users ------------------------------------------------------------
    def add_user(self, creds, display_name, created):
        """Insert a user; fails with sqlite3.IntegrityError when the name is taken."""
        return self._run(add_user, creds, display_name, created)

    def get_user(self, username):
        return self._run(lambda cur: _row_dict(get_user(cur, username)))

    def get_credentials(self, authid):
        """The router's credentials provider interface."""
        def load(cur):
            row = get_user(cur, authid)
            if row is None:
                return None
            return Credentials(row["username"], row["role"], row["password_hash"], row["cra_salt"],
                               row["cra_key"], row["cra_iterations"], row["cra_keylen"])
        return self._run(load)

    def user_exists(self, username):
        return self._run(lambda cur: get_user(cur, username) is not None)

    def display_names(self):
        def load(cur):
            cur.execute("SELECT username, display_name FROM users")
            return {r["username"]: r["display_name"] or r["username"] for r in cur.fetchall()}
        return self._run(load)

    # -- rooms --------------------------------------------------------------
    def create_room(self, room_id, title, private, owner, created, members=()):
        """Create a room with its first members; False if the id is taken."""
        def create(cur):
            if not ensure_room(cur, room_id, title, private, owner, created):
                return False
            for user in members:
                add_member(cur, room_id, user, created)
            return True
        return self._run(create)

    def load_rooms(self):
        """Every room with its member list (the service keeps them in memory for authorization)."""
        def load(cur):
            cur.execute("SELECT * FROM rooms")
            rooms = {r["id"]: room_dict(r) for r in cur.fetchall()}
            members = {room_id: set() for room_id in rooms}
            cur.execute("SELECT room, user FROM members")
            for r in cur.fetchall():
                members.setdefault(r["room"], set()).add(r["user"])
            return rooms, members
        return self._run(load)

    def add_member(self, room_id, user, joined):
        return self._run(add_member, room_id, user, joined)

    def forget_guests(self):
        """Drop every guest membership and read marker (at start-up no guest session is left)."""
        def forget(cur):
            cur.execute("DELETE FROM members WHERE user LIKE 'guest\\_%' ESCAPE '\\'")
            cur.execute("DELETE FROM reads WHERE user LIKE 'guest\\_%' ESCAPE '\\'")
            return cur.rowcount
        return self._run(forget)

    def remove_member(self, room_id, user):
        def remove(cur):
            cur.execute("DELETE FROM members WHERE room = ? AND user = ?", (room_id, user))
            removed = cur.rowcount == 1
            cur.execute("DELETE FROM reads WHERE room = ? AND user = ?", (room_id, user))
            return removed
        return self._run(remove)

    # -- messages -------------------------------------------------------------
    def add_message(self, msg_id, room_id, user, nick, text, ts, client_msg_id):
        """Insert a message and make its author a member, in one transaction.

        With a known client_msg_id the stored message is returned instead and
        nothing changes. Returns (message dict, created?, author newly a
        member?) — committed when the Deferred fires, so the caller can
        publish right away, in id order, with no second round trip between
        the commit and the event.
        """
        def add(cur):
            if client_msg_id is not None:
                cur.execute("SELECT * FROM messages WHERE room = ? AND user = ? AND client_msg_id = ?",
                            (room_id, user, client_msg_id))
                existing = cur.fetchone()
                if existing is not None:
                    return message_dict(existing), False, False
            cur.execute("INSERT INTO messages (id, room, user, nick, text, ts, client_msg_id) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", (msg_id, room_id, user, nick, text, ts, client_msg_id))
            joined = add_member(cur, room_id, user, ts)
            return message_dict(_message(cur, msg_id)), True, joined
        return self._run(add)

    def get_message(self, room_id, message_id):
        def get(cur):
            row = _message(cur, message_id)
            return message_dict(row) if row is not None and row["room"] == room_id else None
        return self._run(get)

    def edit_message(self, message_id, text, edited):
        def edit(cur):
            cur.execute("UPDATE messages SET text = ?, edited = ? WHERE id = ? AND deleted = 0",
                        (text, edited, message_id))
            return message_dict(_message(cur, message_id))
        return self._run(edit)

    def delete_message(self, message_id):
        def delete(cur):
            cur.execute("UPDATE messages SET deleted = 1, text = '' WHERE id = ?", (message_id,))
        return self._run(delete)

    def history(self, room_id, before=None, after=None, limit=50):
        """Up to ``limit`` messages, oldest first, and whether more lie beyond them.

        With ``after`` (and no ``before``) the page starts right after it —
        catching up; otherwise it ends right before ``before`` (or now) —
        scrolling back.
        """
        def load(cur):
            where, params = ["room = ?"], [room_id]
            if after is not None:
                where.append("id > ?")
                params.append(after)
            if before is not None:
                where.append("id < ?")
                params.append(before)
            order = "ASC" if after is not None and before is None else "DESC"
            cur.execute(f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?",
                        params + [limit + 1])
            rows = cur.fetchall()
            more = len(rows) > limit
            rows = rows[:limit]
            if order == "DESC":
                rows.reverse()
            return {"messages": [message_dict(r) for r in rows], "more": more}
        return self._run(load)

    # -- read markers and room summaries ---------------------------------------
    def mark_read(self, room_id, user, message_id):
        """Move the user's read marker forward (never back); returns the marker now stored."""
        def mark(cur):
            cur.execute("SELECT message_id FROM reads WHERE room = ? AND user = ?", (room_id, user))
            row = cur.fetchone()
            if row is not None and row["message_id"] >= message_id:
                return row["message_id"]
            cur.execute("INSERT OR REPLACE INTO reads VALUES (?, ?, ?)", (room_id, user, message_id))
            return message_id
        return self._run(mark)

    def summaries(self, room_ids, user):
        """For each room: unread count for ``user`` and the last message."""
        def load(cur):
            result = {}
            for room_id in room_ids:
                cur.execute("SELECT message_id FROM reads WHERE room = ? AND user = ?", (room_id, user))
                row = cur.fetchone()
                marker = row["message_id"] if row is not None else ""
                cur.execute("SELECT COUNT(*) FROM messages WHERE room = ? AND id > ? AND deleted = 0 AND user != ?",
                            (room_id, marker, user))
                unread = cur.fetchone()[0]
                cur.execute("SELECT * FROM messages WHERE room = ? ORDER BY id DESC LIMIT 1", (room_id,))
                last = cur.fetchone()
                result[room_id] = (unread, message_dict(last) if last is not None else None)
            return result
        return self._run(load)


def _row_dict(row):
    return dict(row) if row is not None else None
