"""Group DMs: a private room of three to ten people, one per set of people, found by that set.

Its key is ``g`` and the sorted usernames, joined by spaces (a pair's DM key
has two names and no ``g``, and no username is one letter, so keys never
meet); its id is ``dm_`` and a hash of the key, so it tells nothing of who is
in it. Nobody is invited later: a different set of people is another room.
"""
import hashlib

from wampchat.storage.chat.members import add_member
from wampchat.storage.chat.rooms import ensure_room, get_room
from wampchat.storage.chat.rows import room_dict
from wampchat.storage.errors import Conflict


def group_key(users) -> str:
    return "g " + " ".join(sorted(set(users)))


def group_room_id(key: str) -> str:
    return "dm_g" + hashlib.sha256(key.encode()).hexdigest()[:40]


def find_group(tx, users) -> dict | None:
    row = tx.one("SELECT * FROM rooms WHERE dm_key = ?", (group_key(users),))
    return room_dict(row) if row is not None else None


def open_group(tx, caller: str, users: list, title: str, now: int) -> tuple:
    """The group DM of ``users`` (the caller among them), made if there is none, with ``caller`` a member
    again if they left: (Room, created)."""
    key = group_key(users)
    row = tx.one("SELECT * FROM rooms WHERE dm_key = ?", (key,))
    if row is not None:
        add_member(tx, row["id"], caller, now)
        return room_dict(row), False
    room_id = group_room_id(key)
    if not ensure_room(tx, room_id, title, True, None, now, key):
        taken = tx.one("SELECT * FROM rooms WHERE id = ?", (room_id,))
        if taken is None or taken["dm_key"] != key:
            raise Conflict("no free id for this group")
        add_member(tx, room_id, caller, now)   # another node made it a moment ago
        return room_dict(taken), False
    for user in sorted(set(users)):
        add_member(tx, room_id, user, now)
    return get_room(tx, room_id), True
