"""Replies and threads: a reply quotes the message it answers, and belongs to the chain of its first message.

A reply's row keeps ``reply_to`` (the message it answers) and ``thread`` (the
chain's first message); the quote is read when the message is shown, so it
follows edits and deletions of the quoted message. The first message counts
its ``replies`` and keeps ``last_reply`` (ms).
"""
from wampchat.storage.chat.changes import next_change

QUOTE_CHARS = 200   # characters of the quoted text a reply carries


def quote(row) -> dict:
    """What a reply shows of the message it answers: ``{id, user, nick, text}`` (the first QUOTE_CHARS)."""
    if row["deleted"]:
        return {"id": row["id"], "user": row["username"], "nick": row["nick"], "text": "", "deleted": True}
    return {"id": row["id"], "user": row["username"], "nick": row["nick"], "text": row["text"][:QUOTE_CHARS]}


def with_replies(tx, messages: list) -> list:
    """Give each reply (``reply_to`` holding an id) its quote; one query for the whole page. A quoted message
    that is gone (retention) leaves only its id."""
    wanted = {m["reply_to"] for m in messages if isinstance(m.get("reply_to"), str)}
    if not wanted:
        return messages
    ids = sorted(wanted)
    rows = tx.query(f"SELECT id, username, nick, text, deleted FROM messages WHERE id IN ({', '.join('?' * len(ids))})",
                    ids)
    quotes = {r["id"]: quote(r) for r in rows}
    for message in messages:
        target = message.get("reply_to")
        if isinstance(target, str):
            message["reply_to"] = quotes.get(target, {"id": target})
    return messages


def targets_later(tx, ids: list):
    """A :meth:`Transaction.later` of the rows a batch's replies answer."""
    return tx.later(f"SELECT id, room, username, nick, text, deleted, thread FROM messages WHERE id IN "
                    f"({', '.join('?' * len(ids))})", ids)


def count_reply(tx, room_id: str, root_id: str, ts: int) -> dict | None:
    """One more reply to the chain of ``root_id``: the thread event ``{id, room, replies, last_reply}`` (the root
    changed, so catching up on changes brings its new count), or None when the root is gone."""
    row = tx.one("UPDATE messages SET replies = replies + 1, last_reply = ?, changed = ? WHERE id = ? AND room = ? "
                 "RETURNING replies, last_reply", (ts, next_change(tx, room_id), root_id, room_id))
    if row is None:
        return None
    return {"id": root_id, "room": room_id, "replies": row["replies"], "last_reply": row["last_reply"]}


def thread_page(tx, room_id: str, root_id: str, after: str | None, limit: int) -> tuple:
    """(replies oldest first, more) of the chain of ``root_id``, after the id ``after``."""
    rows = tx.query("SELECT * FROM messages WHERE room = ? AND thread = ? AND id > ? ORDER BY id LIMIT ?",
                    (room_id, root_id, after or "", limit + 1))
    return rows[:limit], len(rows) > limit
