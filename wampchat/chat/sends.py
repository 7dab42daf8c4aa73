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
membership and give the exact list of members the event may reach.
"""
from collections import deque

from twisted.internet import defer

from wampchat.chat.model import RoomClock, message_dict
from wampchat.chat.store import add_member


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


class SendOutcome:
    """What became of a request.

    ``message`` is the stored Message (the earlier one for a repeated
    ``client_msg_id``, then ``created`` is False); ``joined`` tells that the
    author became a member with it; ``audience`` lists a private room's
    members (None for public rooms); ``refused`` is set, and nothing stored,
    when the author may not write to the room.
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
    return message_dict(row) if row is not None else None


def add_messages(tx, requests):
    """Store ``requests`` in this transaction; a list of SendOutcome in the same order."""
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
    numbers = iter(tx.engine.take_numbers(tx, sum(len(v) for v in by_room.values()))) if by_room else None
    for room_id in sorted(by_room):
        _add_to_room(tx, room_id, [(i, requests[i]) for i in by_room[room_id]], numbers, outcomes)
    for index, request in enumerate(requests):
        if outcomes[index] is None:
            first = outcomes[first_of_key[(request.room, request.user, request.client_msg_id)]]
            outcomes[index] = SendOutcome(first.message, refused=first.refused, audience=first.audience)
    return outcomes


def _add_to_room(tx, room_id, indexed, numbers, outcomes):
    row = tx.one(f"SELECT private, last_ms, last_seq FROM rooms WHERE id = ?{tx.engine.for_update}", (room_id,))
    if row is None:
        for index, _ in indexed:
            outcomes[index] = SendOutcome(refused="no such room")
        return
    clock = RoomClock(row["last_ms"], row["last_seq"])
    members = None
    if row["private"]:
        members = {r["username"] for r in tx.query("SELECT username FROM members WHERE room = ?", (room_id,))}
    inserted = []
    for index, request in indexed:
        if members is not None and request.user not in members:
            outcomes[index] = SendOutcome(refused="not a member")
            next(numbers)
            continue
        msg_id = clock.next(request.ts, next(numbers))
        inserted.append((msg_id, room_id, request.user, request.nick, request.text, request.ts,
                         request.client_msg_id))
        joined = members is None and add_member(tx, room_id, request.user, request.ts)
        message = {"id": msg_id, "room": room_id, "user": request.user, "nick": request.nick,
                   "text": request.text, "ts": request.ts}
        if request.client_msg_id is not None:
            message["client_msg_id"] = request.client_msg_id
        outcomes[index] = SendOutcome(message, True, joined, sorted(members) if members is not None else None)
    if inserted:
        tx.executemany("INSERT INTO messages (id, room, username, nick, text, ts, client_msg_id) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", inserted)
        tx.execute("UPDATE rooms SET last_ms = ?, last_seq = ? WHERE id = ?", (clock.last_ms, clock.last_seq, room_id))


class GroupCommit:
    """Runs ``commit(batch)`` for queued items, one batch at a time, answering each item in order.

    ``commit`` returns a Deferred of one result per item. A failed batch
    fails every item of it with the same error; the next batch is tried
    anyway (the database may be back).
    """

    def __init__(self, commit, max_batch=500):
        self._commit = commit
        self._max_batch = max_batch
        self._queue = deque()
        self._busy = False
        self.batches = 0
        self.items = 0

    def submit(self, item):
        """Deferred of ``item``'s result, once its batch committed."""
        d = defer.Deferred()
        self._queue.append((item, d))
        if not self._busy:
            self._next()
        return d

    def _next(self):
        if not self._queue:
            self._busy = False
            return
        self._busy = True
        batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
        self.batches += 1
        self.items += len(batch)
        d = defer.maybeDeferred(self._commit, [item for item, _ in batch])
        d.addBoth(self._answer, batch)

    def _answer(self, results, batch):
        if isinstance(results, list):
            for (_, d), result in zip(batch, results):
                d.callback(result)
        else:
            for _, d in batch:
                d.errback(results)
        self._next()
