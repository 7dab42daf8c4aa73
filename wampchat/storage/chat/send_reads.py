"""Everything a send batch reads before it writes, asked for at once (:class:`BatchReads`)."""
from wampchat.storage.chat.accounts import NAMES_PER_QUERY, existing_users_later, in_chunks
from wampchat.storage.chat.message_objects import messages_of
from wampchat.storage.chat.moderation import Sanctions
from wampchat.storage.chat.replies import targets_later
from wampchat.storage.chat.sanctions import sanctions_later
from wampchat.storage.chat.send_room_reads import room_reads_later, roles_of, sanction_rows


class BatchReads:
    """Every query a send batch reads, sent at once (:meth:`Transaction.later`) and read when needed.

    Each room touched is locked (its clock row) in id order, so batches on
    different nodes cannot deadlock; a room's members are read whole for a
    private room (the exact audience of its events) and otherwise only among
    the batch's authors (who of them becomes a member with this message).
    Numbers are taken for every candidate; those of refused sends are not
    used, which only leaves gaps.
    """

    def __init__(self, tx, requests, candidates, names, rate, block=None):
        self._tx = tx
        self._stored = {i: tx.later("SELECT * FROM messages WHERE room = ? AND username = ? AND client_msg_id = ?",
                                    (requests[i].room, requests[i].user, requests[i].client_msg_id))
                        for i in candidates if requests[i].client_msg_id is not None}
        # sent(), numbers() and known() read their queries' rows when first called
        self.sent = _sent_since_later(tx, requests, candidates, rate) if rate is not None else None
        self.numbers = take_numbers(tx, len(candidates), block) if candidates else lambda: ()
        authors, addresses = {}, {}
        for i in candidates:
            authors.setdefault(requests[i].room, set()).add(requests[i].user)
            if requests[i].address is not None:
                addresses.setdefault(requests[i].room, set()).add(requests[i].address)
        now = max((requests[i].ts for i in candidates), default=0)
        self._rooms = {}
        self._members = {}
        self._last_sent = {}         # room -> the queries of its authors' last messages (slow mode), asked
        self._last_sent_unasked = {}  # room -> its authors, where those queries wait for the room's row
        self._sanctions = {}
        self._together = set()   # rooms whose row, roles and sanctions came in one statement
        self._parsed = {}        # their roles, read from the row's JSON once
        for room_id in sorted(authors):
            room_addresses = sorted(addresses.get(room_id, ()))
            if not tx.engine.pipelines and len(authors[room_id]) <= NAMES_PER_QUERY:
                self._rooms[room_id] = room_reads_later(tx, room_id, sorted(authors[room_id]), room_addresses, now)
                self._last_sent_unasked[room_id] = authors[room_id]
                self._together.add(room_id)
            else:
                self._ask_apart(tx, room_id, authors[room_id], room_addresses, now)
        replied = sorted({requests[i].reply_to for i in candidates if requests[i].reply_to is not None})
        self._targets = targets_later(tx, replied) if replied else None
        self.known = existing_users_later(tx, {name for found in names.values() for name in found})

    def _ask_apart(self, tx, room_id, authors, addresses, now):
        """The room's row, its authors' roles, their last messages (slow mode) and the sanctions on them, each
        its own query (in one round trip where the engine pipelines)."""
        # the room's settings (read-only, slow mode) are read here, under its lock: every node enforces them
        self._rooms[room_id] = tx.later(f"SELECT * FROM rooms WHERE id = ?{tx.engine.for_update}", (room_id,))
        self._members[room_id] = [
            tx.later(f"SELECT username, role FROM members WHERE room = ? AND (username IN ({marks}) "
                     "OR (SELECT private FROM rooms WHERE id = ?))", [room_id, *chunk, room_id])
            for chunk, marks in in_chunks(authors)]
        # the authors' last message there, asked only of a room in slow mode: in the pipeline's round trip (the
        # database skips it for other rooms), or where nothing pipelines, once the room is seen to be (SQLite
        # scans every message of the authors for it, even when the room is not in slow mode)
        if tx.engine.pipelines:
            self._last_sent[room_id] = _last_sent_later(tx, room_id, authors)
        else:
            self._last_sent_unasked[room_id] = authors
        # bans and mutes in force on the authors (and bans on guests' addresses)
        self._sanctions[room_id] = [sanctions_later(tx, room_id, chunk, addresses, now)
                                    for chunk, _ in in_chunks(authors)]

    def stored(self, index):
        """The Message already stored for a retried ``client_msg_id``, or None."""
        later = self._stored.get(index)
        row = later.one() if later is not None else None
        return messages_of(self._tx, [row])[0] if row is not None else None

    def room(self, room_id):
        return self._rooms[room_id].one()

    def members(self, room_id):
        """A private room's members, or those of the batch's authors who are members of a public room."""
        return set(self.roles(room_id))

    def roles(self, room_id):
        """{member: room role} of those :meth:`members` lists."""
        if room_id in self._together:
            roles = self._parsed.get(room_id)
            if roles is None:
                roles = self._parsed[room_id] = roles_of(self.room(room_id))
            return dict(roles)
        return {r["username"]: r["role"] for later in self._members[room_id] for r in later.rows()}

    def sanctions(self, room_id) -> Sanctions:
        """The bans and mutes in force on the batch's authors in the room."""
        if room_id in self._together:
            return Sanctions.of_rows(sanction_rows(self.room(room_id)))
        return Sanctions.of_rows(r for later in self._sanctions[room_id] for r in later.rows())

    def reply_target(self, message_id):
        """The row of the message a reply answers (id, room, user, nick, text, deleted, thread), or None."""
        if self._targets is None:
            return None
        if not isinstance(self._targets, dict):
            self._targets = {r["id"]: r for r in self._targets.rows()}
        return self._targets.get(message_id)

    def last_sent(self, room_id):
        """{author: ts of their last message in the room}, filled only for a room in slow mode."""
        authors = self._last_sent_unasked.pop(room_id, None)
        if authors is not None:   # not asked yet (an engine without pipelines): ask now
            self._last_sent[room_id] = _last_sent_later(self._tx, room_id, authors)
        return {r["username"]: r["last"] for later in self._last_sent[room_id] for r in later.rows()}


def _last_sent_later(tx, room_id, authors):
    """The queries of ``authors``' last message in ``room_id``, answering only while the room is in slow mode."""
    return [tx.later(f"SELECT username, MAX(ts) AS last FROM messages WHERE room = ? AND username IN ({marks}) "
                     "AND EXISTS (SELECT 1 FROM rooms WHERE id = ? AND slow_mode > 0) GROUP BY username",
                     [room_id, *chunk, room_id])
            for chunk, marks in in_chunks(authors)]


def _sent_since_later(tx, requests, candidates, rate):
    """A function giving {user: messages stored (by any node) in the window before the user's first send
    of the batch}: one query for all the batch's authors."""
    since = {}
    for index in sorted(candidates):
        since.setdefault(requests[index].user, requests[index].ts - rate.window_ms)
    queries = [tx.later("WITH since (username, after) AS (VALUES " + ", ".join(["(?, ?)"] * len(chunk)) + ") "
                        "SELECT since.username AS username, COUNT(*) AS n FROM since JOIN messages m "
                        "ON m.username = since.username AND m.ts > since.after GROUP BY since.username",
                        [value for user in chunk for value in (user, since[user])])
               for chunk, _ in in_chunks(since)]

    def sent():
        counts = dict.fromkeys(since, 0)
        counts.update((r["username"], r["n"]) for later in queries for r in later.rows())
        return counts
    return sent


def take_numbers(tx, count, block=None):
    """``count`` fresh numbers, unique across the database (an id's last part): a function returning them,
    so that on PostgreSQL the query can share a round trip (:meth:`Transaction.later`). SQLite counts in
    the one ``counters`` row (its writers are serialized), a :class:`NumberBlock` at a time when given one;
    PostgreSQL in the ``message_numbers`` sequence."""
    if tx.engine.name == "postgresql":
        later = tx.later("SELECT nextval('message_numbers') AS v FROM generate_series(1, ?)", (count,))
        return lambda: [r["v"] for r in later.rows()]
    if block is not None:
        numbers = block.take(tx, count)
        return lambda: numbers
    last = _advance_counter(tx, count)
    return lambda: range(last - count + 1, last + 1)


def _advance_counter(tx, count: int) -> int:
    return tx.one("UPDATE counters SET value = value + ? WHERE name = 'message' RETURNING value AS v",
                  (count,))["v"]


class NumberBlock:
    """Message numbers reserved ahead on SQLite: one write of the ``counters`` row (a statement and a page
    of the log) per :attr:`SIZE` numbers, not per send batch.

    The counter is moved past the whole block in the transaction that reserves it, so whoever counts next
    (this block's next reservation, another writer of the file) starts after it; numbers left unused are
    gaps, as a refused send's are. A reservation holds only once its transaction committed: the group commit
    calls :meth:`forget` when a batch fails, and the next batch reserves anew. One database thread uses it.
    """

    SIZE = 1000

    def __init__(self) -> None:
        self._next = 0
        self._end = 0     # _next .. _end - 1 are reserved and not handed out yet

    def take(self, tx, count: int) -> range:
        if self._end - self._next < count:
            size = max(count, self.SIZE)
            last = _advance_counter(tx, size)
            self._next, self._end = last - size + 1, last + 1
        first = self._next
        self._next += count
        return range(first, first + count)

    def forget(self) -> None:
        """The batch that may have reserved failed (rolled back): reserve anew next time."""
        self._next = self._end = 0
