"""
The send path: concurrent ``chat.message.send`` calls commit together (group commit).

While one transaction commits, new sends wait in a queue; the next
transaction takes all of them (up to ``max_batch``). One commit, one fsync
and one thread hop then serve many messages, and the results come back in
the order the ids were handed out, so a node publishes its events in id
order. Each message is still committed before its caller hears of it.

Inside the transaction (:func:`add_messages`) every room touched is locked
in id order (its clock row, no deadlock between nodes), repeated
``client_msg_id`` s return the stored message, private rooms re-check
membership and give the exact list of members the event may reach, and
``@name`` mentions are resolved: against the members already read for a
private room, and for public rooms with one query for every name of the
whole batch.
"""
from wampchat.chat.model import RoomClock, join_mentions, mentioned_names, message_dict
from wampchat.chat.store import add_member, existing_users, in_chunks, members_among, with_reactions


class SendRequest:
    """One message to store: where, by whom, what, and the sender's clock."""

    __slots__ = ("room", "user", "nick", "text", "ts", "client_msg_id")

    def __init__(self, room, user, nick, text, ts, client_msg_id=None):
        self.room = room
        self.user = user
        self.nick = nick
        self.text = text
        self.ts = ts
        self.client_msg_id = client_msg_id


NOT_MEMBER = "not a member"
TOO_MANY = "rate limited"


class SendRate:
    """At most ``count`` messages per user in ``window_ms``, counted in the database (every node's sends)."""

    __slots__ = ("count", "window_ms")

    def __init__(self, count, window_ms):
        self.count = count
        self.window_ms = window_ms


class SendOutcome:
    """What became of a request.

    ``message`` is the stored Message (the earlier one for a repeated
    ``client_msg_id``, then ``created`` is False); ``joined`` tells that the
    author became a member with it; ``audience`` lists a private room's
    members (None for public rooms); ``refused`` is set, and nothing stored,
    when the author may not write to the room (``NOT_MEMBER``) or has sent
    too much lately (``TOO_MANY``).
    """

    __slots__ = ("message", "created", "joined", "audience", "refused")

    def __init__(self, message=None, created=False, joined=False, audience=None, refused=None):
        self.message = message
        self.created = created
        self.joined = joined
        self.audience = audience
        self.refused = refused


def _stored(tx, request):
    row = tx.one("SELECT * FROM messages WHERE room = ? AND username = ? AND client_msg_id = ?",
                 (request.room, request.user, request.client_msg_id))
    return with_reactions(tx, [message_dict(row)])[0] if row is not None else None


def add_messages(tx, requests, rate=None):
    """Store ``requests`` in this transaction; a list of SendOutcome in the same order.

    With a :class:`SendRate`, a user's messages of the last window (stored by
    any node) count against it, and sends past it are refused.
    """
    outcomes = [None] * len(requests)
    by_room = {}
    first_of_key = {}
    for index, request in enumerate(requests):
        if request.client_msg_id is not None:
            key = (request.room, request.user, request.client_msg_id)
            if key in first_of_key:
                continue  # the same retry twice in one batch: answered with the first below
            first_of_key[key] = index
            existing = _stored(tx, request)
            if existing is not None:
                outcomes[index] = SendOutcome(existing)
                continue
        by_room.setdefault(request.room, []).append(index)
    if rate is not None:
        _limit_rate(tx, requests, by_room, outcomes, rate)
    numbers = iter(tx.engine.take_numbers(tx, sum(len(v) for v in by_room.values()))) if by_room else None
    names = {i: mentioned_names(requests[i].text) for indexes in by_room.values() for i in indexes}
    known = existing_users(tx, {name for found in names.values() for name in found})
    mention_rows = []
    for room_id in sorted(by_room):
        _add_to_room(tx, room_id, [(i, requests[i]) for i in by_room[room_id]], numbers, outcomes, names, known,
                     mention_rows)
    tx.engine.stored_messages(tx, sum(1 for outcome in outcomes if outcome is not None and outcome.created))
    if mention_rows:
        tx.executemany("INSERT INTO mentions (message_id, username, room) VALUES (?, ?, ?)", mention_rows)
    for index, request in enumerate(requests):
        if outcomes[index] is None:
            first = outcomes[first_of_key[(request.room, request.user, request.client_msg_id)]]
            outcomes[index] = SendOutcome(first.message, refused=first.refused, audience=first.audience)
    return outcomes


def _limit_rate(tx, requests, by_room, outcomes, rate):
    """Refuse (and drop from ``by_room``) the sends past each user's rate, oldest first."""
    order = sorted(i for indexes in by_room.values() for i in indexes)
    since = {}  # each author's window ends at their first send of the batch
    for index in order:
        since.setdefault(requests[index].user, requests[index].ts - rate.window_ms)
    sent = _sent_since(tx, since)
    for index in order:
        request = requests[index]
        if sent[request.user] >= rate.count:
            outcomes[index] = SendOutcome(refused=TOO_MANY)
            by_room[request.room].remove(index)
        else:
            sent[request.user] += 1
    for room_id in [r for r, indexes in by_room.items() if not indexes]:
        del by_room[room_id]


def _sent_since(tx, since):
    """{user: messages stored (by any node) after ``since[user]``}: one query for the batch's authors."""
    sent = dict.fromkeys(since, 0)
    for chunk, _ in in_chunks(since):
        rows = tx.query("WITH since (username, after) AS (VALUES " + ", ".join(["(?, ?)"] * len(chunk)) + ") "
                        "SELECT since.username AS username, COUNT(*) AS n FROM since JOIN messages m "
                        "ON m.username = since.username AND m.ts > since.after GROUP BY since.username",
                        [value for user in chunk for value in (user, since[user])])
        sent.update((r["username"], r["n"]) for r in rows)
    return sent


def _add_to_room(tx, room_id, indexed, numbers, outcomes, names, known, mention_rows):
    row = tx.one(f"SELECT private, last_ms, last_seq FROM rooms WHERE id = ?{tx.engine.for_update}", (room_id,))
    if row is None:
        for index, _ in indexed:
            outcomes[index] = SendOutcome(refused=NOT_MEMBER)
        return
    clock = RoomClock(row["last_ms"], row["last_seq"])
    members = None
    if row["private"]:
        members = {r["username"] for r in tx.query("SELECT username FROM members WHERE room = ?", (room_id,))}
    inserted = []
    # whose membership this batch need not add: members already (one query), then each new one once
    authors = members_among(tx, room_id, {request.user for _, request in indexed}) if members is None else set()
    for index, request in indexed:
        if members is not None and request.user not in members:
            outcomes[index] = SendOutcome(refused=NOT_MEMBER)
            continue
        msg_id = clock.next(request.ts, next(numbers))
        readers = members if members is not None else known  # a public room is open to every user there is
        mentions = [name for name in names[index] if name in readers]
        inserted.append((msg_id, room_id, request.user, request.nick, request.text, request.ts,
                         request.client_msg_id, join_mentions(mentions)))
        mention_rows.extend((msg_id, name, room_id) for name in mentions if name != request.user)
        joined = members is None and request.user not in authors and add_member(tx, room_id, request.user, request.ts)
        authors.add(request.user)
        message = {"id": msg_id, "room": room_id, "user": request.user, "nick": request.nick,
                   "text": request.text, "ts": request.ts}
        if request.client_msg_id is not None:
            message["client_msg_id"] = request.client_msg_id
        if mentions:
            message["mentions"] = mentions
        outcomes[index] = SendOutcome(message, True, joined, sorted(members) if members is not None else None)
    if inserted:
        tx.executemany("INSERT INTO messages (id, room, username, nick, text, ts, client_msg_id, mentions) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", inserted)
        tx.execute("UPDATE rooms SET last_ms = ?, last_seq = ? WHERE id = ?", (clock.last_ms, clock.last_seq, room_id))
