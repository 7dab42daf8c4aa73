"""
The chat store: users, rooms, members, messages, reactions, mentions and read markers, on either engine.

The functions taking ``tx`` are plain SQL in one transaction (shared with
``wampchat-admin``); :class:`ChatStore` runs them on the database threads
and returns Deferreds. Nothing here is cached: every node of a cluster sees
what another committed as soon as it committed. Sends are in
:mod:`wampchat.chat.sends` (group commit), presence in
:mod:`wampchat.chat.online`.
"""
from wampchat.chat.dm_ids import dm_key, dm_room_ids
from wampchat.chat.mentions import mentioned_names
from wampchat.chat.model import join_mentions, message_dict, name_key, room_dict
from wampchat.router.credentials import Credentials
from wampchat.storage import Conflict


# -- users ---------------------------------------------------------------------------
def add_user(tx, creds, display_name, created):
    """Insert a user; Conflict (from the database) when the name is taken."""
    tx.execute(
        "INSERT INTO users (username, username_key, role, display_name, display_key, password_hash, cra_salt, "
        "cra_key, cra_iterations, cra_keylen, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (creds.authid, name_key(creds.authid), creds.role, display_name, name_key(display_name or creds.authid),
         creds.password_hash, creds.cra_salt, creds.cra_key, creds.cra_iterations, creds.cra_keylen, created),
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


NAMES_PER_QUERY = 500  # a batch mentioning more names than this asks in several queries


def existing_users(tx, names):
    """Which of ``names`` are users: registered, or guests online on some node (who may read any public room).

    One query for a whole send batch; only a batch naming more than
    :data:`NAMES_PER_QUERY` different people takes more.
    """
    return existing_users_later(tx, names)()


def existing_users_later(tx, names):
    """:func:`existing_users` sent now (:meth:`Transaction.later`), read when the function it returns is called."""
    queries = [tx.later(f"SELECT username FROM users WHERE username IN ({marks}) "
                        f"UNION SELECT username FROM online WHERE username IN ({marks})", chunk + chunk)
               for chunk, marks in in_chunks(names)]
    return lambda: {r["username"] for later in queries for r in later.rows()}


def in_chunks(names):
    """``names`` sorted, in chunks of at most :data:`NAMES_PER_QUERY`, each with the ``?, ?, ...`` of its
    IN list: a batch's queries about many people stay within every engine's parameter limit."""
    names = sorted(names)
    for start in range(0, len(names), NAMES_PER_QUERY):
        chunk = names[start:start + NAMES_PER_QUERY]
        yield chunk, ", ".join("?" * len(chunk))


def name_in_use(tx, key, guest):
    """Is ``key`` (a name_key) a user's name or display name, or shown by an online user other than ``guest``?"""
    if tx.one("SELECT 1 AS x FROM users WHERE username_key = ? OR display_key = ?", (key, key)) is not None:
        return True
    return tx.one("SELECT 1 AS x FROM online WHERE nick_key = ? AND username != ?", (key, guest)) is not None


# -- rooms -----------------------------------------------------------------------------
def ensure_room(tx, room_id, title, private, owner, created, dm_key=None):
    tx.execute("INSERT INTO rooms (id, title, private, owner, created, dm_key) VALUES (?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (id) DO NOTHING", (room_id, title, bool(private), owner, created, dm_key))
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


def _open_dm(tx, caller, other, now):
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
            return _get_room(tx, room_id), True
        taken = tx.one("SELECT * FROM rooms WHERE id = ?", (room_id,))
        if taken is not None and taken["dm_key"] == key:   # another node made it a moment ago
            add_member(tx, room_id, caller, now)
            return room_dict(taken), False
    raise Conflict(f"no free id for the direct messages of {first} and {second}")


def _find_dm(tx, a, b):
    """The DM room of two users, or None when they have none yet."""
    row = tx.one("SELECT * FROM rooms WHERE dm_key = ?", (dm_key(a, b),))
    return room_dict(row) if row is not None else None


# -- rate limits every node counts against ----------------------------------------------
RATE_SWEEP_MS = 3_600_000   # rows of keys that went quiet are deleted this long after their window


def _take_rate(tx, kind, keys, count, window_ms, now):
    """Count one ``kind`` event for each of ``keys`` unless one of them already has ``count`` inside the last
    ``window_ms``: then nothing is counted and the answer is the milliseconds until it may act again.
    None when the event was counted. Every node counts in the same table, so the limit is the cluster's."""
    since = now - window_ms
    for key in keys:
        tx.execute("DELETE FROM rate_events WHERE kind = ? AND key = ? AND ts <= ?", (kind, key, since))
        rows = tx.query("SELECT ts FROM rate_events WHERE kind = ? AND key = ? ORDER BY ts DESC LIMIT ?",
                        (kind, key, count))
        if len(rows) >= count:
            return max(1, rows[-1]["ts"] + window_ms - now)
    tx.insert_rows("INSERT INTO rate_events (kind, key, ts)", [(kind, key, now) for key in keys])
    tx.execute("DELETE FROM rate_events WHERE ts <= ?", (now - window_ms - RATE_SWEEP_MS,))
    return None


def is_member(tx, room_id, user):
    return tx.one("SELECT 1 AS x FROM members WHERE room = ? AND username = ?", (room_id, user)) is not None


def member_names(tx, room_id):
    return [r["username"] for r in tx.query("SELECT username FROM members WHERE room = ? ORDER BY username",
                                            (room_id,))]


MEMBERS_PAGE = 1000  # members one answer lists at most (a join, chat.room.members); the rest by ``after``


def _members(tx, room_id, after=None, limit=MEMBERS_PAGE):
    """(username, display name or None, nick shown online on some node or None) of up to ``limit`` members,
    by name, after the name ``after``."""
    rows = tx.query("SELECT m.username AS username, u.display_name AS display_name, "
                    "(SELECT o.nick FROM online o WHERE o.username = m.username ORDER BY o.node LIMIT 1) AS nick "
                    "FROM members m LEFT JOIN users u ON u.username = m.username WHERE m.room = ? AND m.username > ? "
                    "ORDER BY m.username LIMIT ?", (room_id, after or "", limit))
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


ROOMS_PAGE = 500   # rooms one chat.room.list answer holds at most


def _visible_rooms(tx, user, after=None, limit=ROOMS_PAGE):
    """Public rooms and the private rooms ``user`` belongs to, with unread, last message and membership: up to
    ``limit`` of them, oldest first, after the room ``after`` (a page; None for the first)."""
    where, params = ["(NOT r.private OR m.username IS NOT NULL)"], [user]
    if after is not None:
        start = tx.one("SELECT created FROM rooms WHERE id = ?", (after,))
        where.append("(r.created > ? OR (r.created = ? AND r.id > ?))")
        params += [start["created"] if start else -1, start["created"] if start else -1, after]
    rows = tx.query("SELECT r.*, m.username AS member FROM rooms r LEFT JOIN members m "
                    f"ON m.room = r.id AND m.username = ? WHERE {' AND '.join(where)} "
                    "ORDER BY r.created, r.id LIMIT ?", params + [limit])
    result = []
    for row in rows:
        room = room_dict(row)
        marker = tx.one("SELECT message_id FROM reads WHERE room = ? AND username = ?", (room["id"], user))
        since = marker["message_id"] if marker else ""
        unread = tx.one("SELECT COUNT(*) AS n FROM messages WHERE room = ? AND id > ? AND NOT deleted "
                        "AND username != ?", (room["id"], since, user))["n"]
        mentions = tx.one("SELECT COUNT(*) AS n FROM mentions WHERE username = ? AND room = ? AND message_id > ?",
                          (user, room["id"], since))["n"] if unread else 0
        last = tx.one("SELECT * FROM messages WHERE room = ? ORDER BY id DESC LIMIT 1", (room["id"],))
        result.append(dict(room, unread=unread, mentions=mentions,
                           last_message=message_dict(last) if last is not None else None,
                           member=row["member"] is not None))
    return result


# -- messages --------------------------------------------------------------------------
REACTION_KINDS_MAX = 50  # different emoji on one message; a reaction past that is refused


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


ANSWER_BUDGET = 512 * 1024   # bytes of messages one answer (a page, a join, a search) may carry
MESSAGE_OVERHEAD = 160       # a Message's keys, id, room, ts and JSON punctuation, about


def encoded_size(message):
    """About how many bytes ``message`` takes in a WAMP answer: its text and names as UTF-8, and its reactions."""
    size = MESSAGE_OVERHEAD + len(message["text"].encode()) + len(message["nick"].encode()) + len(message["user"])
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


def _messages(tx, rows):
    return with_reactions(tx, [message_dict(r) for r in rows])


def _message(tx, room_id, message_id):
    row = tx.one("SELECT * FROM messages WHERE id = ? AND room = ?", (message_id, room_id))
    return _messages(tx, [row])[0] if row is not None else None


def _locked_message(tx, room_id, message_id):
    """The message's row, locked until commit (on PostgreSQL); None if there is none.

    Every change to a message locks the message first and the room's
    counter second (sends lock only rooms), so two changes never wait on
    each other in a circle.
    """
    return tx.one(f"SELECT * FROM messages WHERE id = ? AND room = ?{tx.engine.for_update}", (message_id, room_id))


def _next_change(tx, room_id):
    """The room's next change number; the room's row stays locked until commit, so numbers commit in order."""
    return tx.one("UPDATE rooms SET changes = changes + 1 WHERE id = ? RETURNING changes AS n", (room_id,))["n"]


def _readers(tx, room_id):
    """Who may read a room, for mentions: a private room's members, or None (every user) for a public room."""
    room = tx.one("SELECT private FROM rooms WHERE id = ?", (room_id,))
    if room is None or not room["private"]:
        return None
    return set(member_names(tx, room_id))


def resolve_mentions(tx, room_id, text):
    """The users ``text`` mentions who may read ``room_id``."""
    names = mentioned_names(text)
    if not names:
        return []
    readers = _readers(tx, room_id)
    if readers is None:
        readers = existing_users(tx, names)
    return [name for name in names if name in readers]


def _set_mentions(tx, room_id, message_id, author, mentions):
    tx.execute("DELETE FROM mentions WHERE message_id = ?", (message_id,))
    rows = [(message_id, name, room_id) for name in mentions if name != author]
    tx.insert_rows("INSERT INTO mentions (message_id, username, room)", rows)


def _edit_message(tx, room_id, message_id, text, edited):
    """New text (and the mentions it makes) for a message that is not deleted; the Message after it, or None."""
    row = _locked_message(tx, room_id, message_id)
    if row is None:
        return None
    if not row["deleted"]:
        mentions = resolve_mentions(tx, room_id, text)
        tx.execute("UPDATE messages SET text = ?, edited = ?, mentions = ?, changed = ? WHERE id = ?",
                   (text, edited, join_mentions(mentions), _next_change(tx, room_id), message_id))
        _set_mentions(tx, room_id, message_id, row["username"], mentions)
    return _message(tx, room_id, message_id)


def _delete_message(tx, room_id, message_id):
    """Blank a message; its mentions and reactions go with its text."""
    if _locked_message(tx, room_id, message_id) is None:
        return
    tx.execute("UPDATE messages SET deleted = ?, text = '', mentions = NULL, changed = ? WHERE id = ?",
               (True, _next_change(tx, room_id), message_id))
    tx.execute("DELETE FROM mentions WHERE message_id = ?", (message_id,))
    tx.execute("DELETE FROM reactions WHERE message_id = ?", (message_id,))


class ReactionRefused(Exception):
    """The message already has :data:`REACTION_KINDS_MAX` different emoji."""


def _react(tx, room_id, message_id, user, emoji, on, now):
    """Add or take back ``user``'s ``emoji`` on a message: (Message, whether anything changed), or None
    when there is no such message (or it is deleted)."""
    row = _locked_message(tx, room_id, message_id)
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
        tx.execute("UPDATE messages SET changed = ? WHERE id = ?", (_next_change(tx, room_id), message_id))
    message = _messages(tx, [row])[0]
    message.setdefault("reactions", {})
    return message, changed


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
    # the rows nearest the cursor (or now) come first either way: a page cut to its byte budget keeps them
    messages, cut = within_budget(_messages(tx, rows[:limit]))
    if order == "DESC":
        messages.reverse()
    return {"messages": messages, "more": more or cut}


def _room_changes(tx, room_id):
    return tx.one("SELECT changes FROM rooms WHERE id = ?", (room_id,))["changes"]


def _join_page(tx, room_id, limit):
    """What joining shows: the newest page, the change cursor to catch up from and every read marker.

    The cursor is read before the page: a change committed in between is
    then both in the page and after the cursor (fetched twice, harmless),
    never in neither.
    """
    changes = _room_changes(tx, room_id)
    page = _history(tx, room_id, None, None, limit)
    reads = {r["username"]: r["message_id"] for r in tx.query(
        "SELECT username, message_id FROM reads WHERE room = ? ORDER BY message_id DESC LIMIT ?",
        (room_id, MEMBERS_PAGE))}   # the furthest read markers: the rest are behind every message shown
    return dict(page, changes=changes, reads=reads)


def _changes(tx, room_id, changed_after, limit):
    """Messages edited, deleted or reacted to after the cursor ``changed_after``, in the order that happened."""
    rows = tx.query("SELECT * FROM messages WHERE room = ? AND changed > ? ORDER BY changed LIMIT ?",
                    (room_id, changed_after, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    messages, cut = within_budget(_messages(tx, rows))
    cursor = rows[len(messages) - 1]["changed"] if messages else changed_after
    return {"messages": messages, "more": more or cut, "changes": cursor}


def _search(tx, user, query, room_id, before, limit):
    """Messages matching ``query`` (a parsed SearchQuery), newest first, only in rooms ``user`` may read.

    The rule is in the SQL itself (public rooms, and private rooms with
    ``user`` among the members), so no page ever holds a message to filter
    out afterwards, and ``more`` is true only when readable hits remain.
    """
    tx.engine.index_messages(tx)   # SQLite indexes new messages in batches: take in those still waiting
    join, condition, parameter = tx.engine.text_search(query)
    where, params = [condition, "NOT m.deleted"], [parameter]
    if room_id is not None:
        where.append("m.room = ?")
        params.append(room_id)
    if before is not None:
        where.append("m.id < ?")
        params.append(before)
    where.append("(NOT r.private OR EXISTS (SELECT 1 FROM members mb WHERE mb.room = m.room AND mb.username = ?))")
    params.append(user)
    rows = tx.query(f"SELECT m.* FROM messages m {join} JOIN rooms r ON r.id = m.room "
                    f"WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT ?", params + [limit + 1])
    messages, cut = within_budget(_messages(tx, rows[:limit]))
    return {"messages": messages, "more": len(rows) > limit or cut}


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

    def open_dm(self, caller, other, now):
        """(Room, created): the DM of ``caller`` and ``other``, made if needed, with ``caller`` a member."""
        return self._run(_open_dm, caller, other, now)

    def is_member(self, room_id, user):
        return self._run(is_member, room_id, user)

    def member_names(self, room_id):
        return self._run(member_names, room_id)

    def members(self, room_id, after=None, limit=MEMBERS_PAGE):
        return self._run(_members, room_id, after, limit)

    def add_member(self, room_id, user, joined):
        return self._run(add_member, room_id, user, joined)

    def remove_member(self, room_id, user):
        return self._run(_remove_member, room_id, user)

    def rooms_of(self, user):
        return self._run(rooms_of, user)

    def visible_rooms(self, user, after=None, limit=ROOMS_PAGE):
        """A page of the rooms ``user`` can see (:func:`_visible_rooms`)."""
        return self._run(_visible_rooms, user, after, limit)

    def find_dm(self, a, b):
        return self._run(_find_dm, a, b)

    def take_rate(self, kind, keys, count, window_ms, now):
        """None when one ``kind`` event was counted for every key; else milliseconds until one may be."""
        return self._run(_take_rate, kind, list(keys), count, window_ms, now)

    # -- messages -------------------------------------------------------------------------
    def get_message(self, room_id, message_id):
        return self._run(_message, room_id, message_id)

    def edit_message(self, room_id, message_id, text, edited):
        """New text; the mentions follow it (nobody is notified of an edit). The edited Message, or None."""
        return self._run(_edit_message, room_id, message_id, text, edited)

    def delete_message(self, room_id, message_id):
        return self._run(_delete_message, room_id, message_id)

    def react(self, room_id, message_id, user, emoji, on, now):
        """(Message with reactions, changed) or None; fails with ReactionRefused past the emoji limit."""
        return self._run(_react, room_id, message_id, user, emoji, on, now)

    def join_page(self, room_id, limit=50):
        """The newest ``limit`` messages with ``more``, ``changes`` (cursor) and ``reads`` (user -> id)."""
        return self._run(_join_page, room_id, limit)

    def changes(self, room_id, changed_after, limit=50):
        """Messages changed after the cursor, oldest change first; ``changes`` is the cursor to go on from."""
        return self._run(_changes, room_id, changed_after, limit)

    def search(self, user, query, room_id=None, before=None, limit=20):
        """Up to ``limit`` hits of a parsed query that ``user`` may read, newest first, and ``more``."""
        return self._run(_search, user, query, room_id, before, limit)

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


__all__ = ["ChatStore", "Conflict", "ReactionRefused", "existing_users", "with_reactions", "add_user", "get_user", "update_user", "list_users", "ensure_room",
           "add_member", "rooms_of", "remove_memberships", "member_names", "name_in_use"]
