"""
How rows of the chat tables become API objects, and the values the tables keep for names and mentions.
"""
import json

from wampchat.names import name_skeleton


def name_key(name: str) -> str:
    """How nicks, usernames and display names are compared for uniqueness (the ``*_key`` columns): names that
    look alike (``alice`` and Cyrillic ``аlice``, ``Bob`` and ``bob``) have one key, their skeleton
    (:func:`wampchat.names.name_skeleton`)."""
    return name_skeleton(name)


def room_dict(row) -> dict:
    """A Room object from a rooms row."""
    return {"id": row["id"], "title": row["title"], "private": bool(row["private"]),
            "owner": row["owner"], "created": row["created"], "topic": row["topic"],
            "read_only": bool(row["read_only"]), "slow_mode": row["slow_mode"],
            "retention_days": row["retention_days"], "dm": row["dm_key"] is not None}


def message_dict(row) -> dict:
    """A Message object from a messages row (deleted messages keep only their identity)."""
    msg = {"id": row["id"], "room": row["room"], "user": row["username"], "nick": row["nick"],
           "text": "" if row["deleted"] else row["text"], "ts": row["ts"]}
    if row["edited"]:
        msg["edited"] = row["edited"]
    if row["deleted"]:
        msg["deleted"] = True
    if row["client_msg_id"]:
        msg["client_msg_id"] = row["client_msg_id"]
    if row["mentions"] and not row["deleted"]:
        msg["mentions"] = row["mentions"].split(" ")
    if row["reply_to"]:
        msg["reply_to"] = row["reply_to"]   # the id; replies.with_replies makes it the quote
    if row["thread"]:
        msg["thread"] = row["thread"]
    if row["replies"]:
        msg["replies"] = row["replies"]
        msg["last_reply"] = row["last_reply"]
    if row["preview"] and not row["deleted"]:
        msg["preview"] = json.loads(row["preview"])
    return msg


def join_mentions(names) -> str | None:
    """How a Message's ``mentions`` are kept in its row: usernames (never with spaces) joined by one space."""
    return " ".join(names) if names else None
