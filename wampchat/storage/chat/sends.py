"""The send batch: a batch of ``chat.message.send`` requests stored in one transaction (group commit).

While one transaction commits, new sends wait in a queue; the next transaction takes all of them (up to
``max_batch``). One commit, one fsync and one thread hop then serve many messages, and the results come back
in the order the ids were handed out, so a node publishes its events in id order. Each message is still
committed before its caller hears of it.

Inside the transaction (:func:`add_messages`) every room touched is locked in id order (its clock row, no
deadlock between nodes), repeated ``client_msg_id`` s return the stored message, private rooms re-check
membership and give the exact list of members the event may reach, and ``@name`` mentions are resolved:
against the members already read for a private room, and for public rooms with one query for every name of
the batch. A message's rows (the message, its mentions and files, its room's clock, its author's membership)
are built and written here, in one place.
"""
from wampchat.storage.chat.mentions import mentioned_names
from wampchat.storage.chat.message_ids import RoomClock
from wampchat.storage.chat.accounts import existing_users_later, in_chunks
from wampchat.storage.chat.members import add_member
from wampchat.storage.chat.sanctions import sanctions_later
from wampchat.storage.chat.moderation import RoomRules, Sanctions
from wampchat.storage.chat.files import attach_files
from wampchat.storage.chat.messages import messages_of
from wampchat.storage.chat.rows import join_mentions, room_dict
from wampchat.storage.chat.search import stored_messages


class SendRequest:
    """One message to store: where, by whom, what, and the sender's clock."""

    __slots__ = ("room", "user", "nick", "text", "ts", "client_msg_id", "admin", "address", "files")

    def __init__(self, room, user, nick, text, ts, client_msg_id=None, admin=False, address=None, files=()):
        self.room = room
        self.user = user
        self.nick = nick
        self.text = text
        self.ts = ts
        self.client_msg_id = client_msg_id
        self.admin = admin   # a server admin: read-only rooms and slow mode do not hold them back
        self.address = address   # a guest's client address: a room ban on it keeps new guests from it out
        self.files = files       # ids of the author's uploads to this room to attach (storage.chat.files)


NOT_MEMBER = "not a member"
TOO_MANY = "rate limited"
FILES_REFUSED = "files not attachable"   # not the author's uploads to this room, not uploaded, or sent already


class SendRate:
    """At most ``count`` messages per user in ``window_ms``, counted in the database (every node's sends)."""

    __slots__ = ("count", "window_ms")

    def __init__(self, count, window_ms):
        self.count = count
        self.window_ms = window_ms


class SendOutcome:
    """What became of a request.

    ``message`` is the stored Message (the earlier one for a repeated ``client_msg_id``, then ``created`` is
    False); ``joined`` tells that the author became a member with it; ``audience`` lists a private room's
    members (None for public rooms); ``refused`` is set, and nothing stored, when the author may not write to
    the room (``NOT_MEMBER``), has sent too much lately (``TOO_MANY``), the room is read-only (``READ_ONLY``)
    or in slow mode and their last message is too recent (``SLOW``, with ``retry_after_ms``), or the files
    are not theirs to attach (``FILES_REFUSED``); ``room`` is the Room as the batch read it.
    """

    __slots__ = ("message", "created", "joined", "audience", "refused", "retry_after_ms", "room")

    def __init__(self, message=None, created=False, joined=False, audience=None, refused=None, retry_after_ms=0,
                 room=None):
        self.message = message
        self.created = created
        self.joined = joined
        self.audience = audience
        self.refused = refused
        self.retry_after_ms = retry_after_ms
        self.room = room


def add_messages(tx, requests, rate=None):
    """Store ``requests`` in this transaction; a list of SendOutcome in the same order.

    With a :class:`SendRate`, a user's messages of the last window (stored by
    any node) count against it, and sends past it are refused. Everything the
    batch needs to read is asked for first and the writes follow, so on
    PostgreSQL the reads share one network round trip and the writes another
    (:meth:`~wampchat.storage.database.Transaction.pipeline`).
    """
    outcomes = [None] * len(requests)
    first_of_key = {}
    candidates = []   # the requests to store, unless stored already, refused or over the rate
    for index, request in enumerate(requests):
        if request.client_msg_id is not None:
            key = (request.room, request.user, request.client_msg_id)
            if key in first_of_key:
                continue  # the same retry twice in one batch: answered with the first below
            first_of_key[key] = index
        candidates.append(index)
    names = {i: mentioned_names(requests[i].text) for i in candidates}
    with tx.pipeline():
        reads = _BatchReads(tx, requests, candidates, names, rate)
        by_room = {}
        for index in candidates:
            existing = reads.stored(index)
            if existing is not None:
                outcomes[index] = SendOutcome(existing)
            else:
                by_room.setdefault(requests[index].room, []).append(index)
        if rate is not None:
            _limit_rate(requests, by_room, outcomes, rate, reads.sent())
        numbers = iter(reads.numbers())
        known = reads.known()
        mention_rows = []
        for room_id in sorted(by_room):
            _add_to_room(tx, room_id, [(i, requests[i]) for i in by_room[room_id]], reads, numbers, outcomes, names,
                         known, mention_rows)
        stored_messages(tx, sum(1 for outcome in outcomes if outcome is not None and outcome.created))
        if mention_rows:
            tx.insert_rows("INSERT INTO mentions (message_id, username, room)", mention_rows)
    for index, request in enumerate(requests):
        if outcomes[index] is None:
            first = outcomes[first_of_key[(request.room, request.user, request.client_msg_id)]]
            outcomes[index] = SendOutcome(first.message, refused=first.refused, audience=first.audience)
    return outcomes


class _BatchReads:
    """Every query a send batch reads, sent at once (:meth:`Transaction.later`) and read when needed.

    Each room touched is locked (its clock row) in id order, so batches on
    different nodes cannot deadlock; a room's members are read whole for a
    private room (the exact audience of its events) and otherwise only among
    the batch's authors (who of them becomes a member with this message).
    Numbers are taken for every candidate; those of refused sends are not
    used, which only leaves gaps.
    """

    def __init__(self, tx, requests, candidates, names, rate):
        self._tx = tx
        self._stored = {i: tx.later("SELECT * FROM messages WHERE room = ? AND username = ? AND client_msg_id = ?",
                                    (requests[i].room, requests[i].user, requests[i].client_msg_id))
                        for i in candidates if requests[i].client_msg_id is not None}
        # sent(), numbers() and known() read their queries' rows when first called
        self.sent = _sent_since_later(tx, requests, candidates, rate) if rate is not None else None
        self.numbers = take_numbers(tx, len(candidates)) if candidates else lambda: ()
        authors, addresses = {}, {}
        for i in candidates:
            authors.setdefault(requests[i].room, set()).add(requests[i].user)
            if requests[i].address is not None:
                addresses.setdefault(requests[i].room, set()).add(requests[i].address)
        now = max((requests[i].ts for i in candidates), default=0)
        self._rooms = {}
        self._members = {}
        self._last_sent = {}
        self._sanctions = {}
        for room_id in sorted(authors):
            # the room's settings (read-only, slow mode) are read here, under its lock: every node enforces them
            self._rooms[room_id] = tx.later(f"SELECT * FROM rooms WHERE id = ?{tx.engine.for_update}", (room_id,))
            self._members[room_id] = [
                tx.later(f"SELECT username, role FROM members WHERE room = ? AND (username IN ({marks}) "
                         "OR (SELECT private FROM rooms WHERE id = ?))", [room_id, *chunk, room_id])
                for chunk, marks in in_chunks(authors[room_id])]
            # the authors' last message there, asked only of a room in slow mode
            self._last_sent[room_id] = [
                tx.later(f"SELECT username, MAX(ts) AS last FROM messages WHERE room = ? AND username IN ({marks}) "
                         "AND EXISTS (SELECT 1 FROM rooms WHERE id = ? AND slow_mode > 0) GROUP BY username",
                         [room_id, *chunk, room_id])
                for chunk, marks in in_chunks(authors[room_id])]
            # bans and mutes in force on the authors (and bans on guests' addresses)
            self._sanctions[room_id] = [
                sanctions_later(tx, room_id, chunk, sorted(addresses.get(room_id, ())), now)
                for chunk, _ in in_chunks(authors[room_id])]
        self.known = existing_users_later(tx, {name for found in names.values() for name in found})

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
        return {r["username"]: r["role"] for later in self._members[room_id] for r in later.rows()}

    def sanctions(self, room_id) -> Sanctions:
        """The bans and mutes in force on the batch's authors in the room."""
        return Sanctions.of_rows(r for later in self._sanctions[room_id] for r in later.rows())

    def last_sent(self, room_id):
        """{author: ts of their last message in the room}, filled only for a room in slow mode."""
        return {r["username"]: r["last"] for later in self._last_sent[room_id] for r in later.rows()}


def _limit_rate(requests, by_room, outcomes, rate, sent):
    """Refuse (and drop from ``by_room``) the sends past each user's rate, oldest first."""
    for index in sorted(i for indexes in by_room.values() for i in indexes):
        request = requests[index]
        if sent[request.user] >= rate.count:
            outcomes[index] = SendOutcome(refused=TOO_MANY)
            by_room[request.room].remove(index)
        else:
            sent[request.user] += 1
    for room_id in [r for r, indexes in by_room.items() if not indexes]:
        del by_room[room_id]


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


def take_numbers(tx, count):
    """``count`` fresh numbers, unique across the database (an id's last part): a function returning them,
    so that on PostgreSQL the query can share a round trip (:meth:`Transaction.later`). SQLite counts in
    the one ``counters`` row (its writers are serialized), PostgreSQL in the ``message_numbers`` sequence."""
    if tx.engine.name == "postgresql":
        later = tx.later("SELECT nextval('message_numbers') AS v FROM generate_series(1, ?)", (count,))
        return lambda: [r["v"] for r in later.rows()]
    last = tx.one("UPDATE counters SET value = value + ? WHERE name = 'message' RETURNING value AS v",
                  (count,))["v"]
    return lambda: range(last - count + 1, last + 1)


def new_message(msg_id, request, mentions=(), files=()):
    """The Message a request became, stored as ``msg_id``: what its event and its caller's result carry."""
    message = {"id": msg_id, "room": request.room, "user": request.user, "nick": request.nick,
               "text": request.text, "ts": request.ts}
    if request.client_msg_id is not None:
        message["client_msg_id"] = request.client_msg_id
    if mentions:
        message["mentions"] = mentions
    if files:
        message["files"] = files
    return message


def _add_to_room(tx, room_id, indexed, reads, numbers, outcomes, names, known, mention_rows):
    row = reads.room(room_id)
    if row is None:
        for index, _ in indexed:
            outcomes[index] = SendOutcome(refused=NOT_MEMBER)
        return
    clock = RoomClock(row["last_ms"], row["last_seq"])
    room = room_dict(row)
    members = reads.members(room_id) if row["private"] else None
    roles = reads.roles(room_id)
    rules = RoomRules(room, roles, reads.last_sent(room_id) if room["slow_mode"] else {}, reads.sanctions(room_id))
    inserted = []
    # whose membership this batch need not add: members already, then each new one once
    authors = reads.members(room_id) if members is None else set()
    for index, request in indexed:
        if members is not None and request.user not in members:
            outcomes[index] = SendOutcome(refused=NOT_MEMBER)
            continue
        refusal = rules.refusal(request.user, request.admin, request.ts, request.address, request.user in roles)
        if refusal is not None:
            outcomes[index] = SendOutcome(refused=refusal[0], retry_after_ms=refusal[1], room=room)
            continue
        msg_id = clock.next(request.ts, next(numbers))
        files = attach_files(tx, msg_id, request.files, request.user, room_id) if request.files else ()
        if files is None:
            outcomes[index] = SendOutcome(refused=FILES_REFUSED, room=room)
            continue
        readers = members if members is not None else known  # a public room is open to every user there is
        mentions = [name for name in names[index] if name in readers]
        inserted.append((msg_id, room_id, request.user, request.nick, request.text, request.ts,
                         request.client_msg_id, join_mentions(mentions)))
        mention_rows.extend((msg_id, name, room_id) for name in mentions if name != request.user)
        joined = members is None and request.user not in authors and add_member(tx, room_id, request.user, request.ts)
        authors.add(request.user)
        outcomes[index] = SendOutcome(new_message(msg_id, request, mentions, files), True, joined,
                                      sorted(members) if members is not None else None, room=room)
    if inserted:
        tx.insert_rows("INSERT INTO messages (id, room, username, nick, text, ts, client_msg_id, mentions)", inserted)
        tx.execute("UPDATE rooms SET last_ms = ?, last_seq = ? WHERE id = ?", (clock.last_ms, clock.last_seq, room_id))
