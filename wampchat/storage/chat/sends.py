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
from wampchat.storage.chat.files import attach_files
from wampchat.storage.chat.members import add_member, silenced
from wampchat.storage.chat.mentions import mentioned_names
from wampchat.storage.chat.message_ids import RoomClock
from wampchat.storage.chat.moderation import RoomRules
from wampchat.storage.chat.rows import join_mentions, room_dict
from wampchat.storage.chat.search import stored_messages
from wampchat.storage.chat.send_reads import BatchReads, NumberBlock
from wampchat.storage.chat.replies import count_reply, quote
from wampchat.storage.chat.send_requests import (FILES_REFUSED, NOT_MEMBER, REPLY_REFUSED, TOO_MANY, SendOutcome,
                                                 SendRate, SendRequest)

__all__ = ["add_messages", "new_message", "SendRequest", "SendRate", "SendOutcome", "NumberBlock", "NOT_MEMBER",
           "TOO_MANY", "FILES_REFUSED", "REPLY_REFUSED"]


def add_messages(tx, requests, rate=None, numbers=None):
    """Store ``requests`` in this transaction; a list of SendOutcome in the same order.

    With a :class:`SendRate`, a user's messages of the last window (stored by
    any node) count against it, and sends past it are refused. Everything the
    batch needs to read is asked for first and the writes follow, so on
    PostgreSQL the reads share one network round trip and the writes another
    (:meth:`~wampchat.storage.database.Transaction.pipeline`). With a :class:`NumberBlock` (``numbers``), SQLite
    takes the messages' numbers from it.
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
        reads = BatchReads(tx, requests, candidates, names, rate, numbers)
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


def new_message(msg_id, request, mentions=(), files=(), reply=None):
    """The Message a request became, stored as ``msg_id``: what its event and its caller's result carry."""
    message = {"id": msg_id, "room": request.room, "user": request.user, "nick": request.nick,
               "text": request.text, "ts": request.ts}
    if request.client_msg_id is not None:
        message["client_msg_id"] = request.client_msg_id
    if mentions:
        message["mentions"] = mentions
    if files:
        message["files"] = files
    if reply is not None:
        message["reply_to"] = quote(reply)
        message["thread"] = reply["thread"] or reply["id"]
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
        reply = None
        if request.reply_to is not None:
            reply = reads.reply_target(request.reply_to)
            if reply is None or reply["room"] != room_id or reply["deleted"]:
                outcomes[index] = SendOutcome(refused=REPLY_REFUSED, room=room)
                continue
        msg_id = clock.next(request.ts, next(numbers))
        files = attach_files(tx, msg_id, request.files, request.user, room_id) if request.files else ()
        if files is None:
            outcomes[index] = SendOutcome(refused=FILES_REFUSED, room=room)
            continue
        readers = members if members is not None else known  # a public room is open to every user there is
        mentions = [name for name in names[index] if name in readers]
        inserted.append((msg_id, room_id, request.user, request.nick, request.text, request.ts,
                         request.client_msg_id, join_mentions(mentions), request.reply_to,
                         (reply["thread"] or reply["id"]) if reply is not None else None))
        mention_rows.extend((msg_id, name, room_id) for name in mentions if name != request.user)
        joined = members is None and request.user not in authors and add_member(tx, room_id, request.user, request.ts)
        authors.add(request.user)
        outcomes[index] = SendOutcome(new_message(msg_id, request, mentions, files, reply), True, joined,
                                      sorted(members) if members is not None else None, room=room)
    if inserted:
        tx.insert_rows("INSERT INTO messages (id, room, username, nick, text, ts, client_msg_id, mentions, reply_to, "
                       "thread)", inserted)
        for index, _ in indexed:   # each reply counts on its chain's first message
            outcome = outcomes[index]
            if outcome is not None and outcome.created and "thread" in outcome.message:
                outcome.thread = count_reply(tx, room_id, outcome.message["thread"], outcome.message["ts"])
        _mark_silenced(tx, room_id, [outcomes[index] for index, _ in indexed])
        tx.execute("UPDATE rooms SET last_ms = ?, last_seq = ? WHERE id = ?", (clock.last_ms, clock.last_seq, room_id))


def _mark_silenced(tx, room_id, outcomes) -> None:
    """Who of the users mentioned by the room's new messages hears nothing of it (level ``none``), read in the
    send's transaction, so the level as it was when the message was sent decides."""
    created = [o for o in outcomes if o is not None and o.created and o.message.get("mentions")]
    names = sorted({name for o in created for name in o.message["mentions"]})
    if names:
        found = silenced(tx, room_id, names)
        for outcome in created:
            outcome.silenced = found
