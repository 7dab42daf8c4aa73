"""Which room is the DM of two users: its key (found by the pair, whoever opens it) and the ids it may take."""
import hashlib


def dm_key(a, b):
    """What identifies the DM of two users, whoever opens it: their names, sorted, joined by a space (which no
    username holds, so two different pairs never share a key). Rooms keep it in ``rooms.dm_key`` (unique)."""
    return " ".join(sorted((a, b)))


def dm_room_ids(a, b):
    """The ids the DM of ``a`` and ``b`` may take, the first free one is used; none is another pair's.

    ``dm_<a>_<b>`` when neither name holds ``_`` (exactly two underscores
    then), else ``dm_<len(a)>_<a>_<b>`` (three or more, and the length tells
    where ``a`` ends). Rooms made before version 5 used ``dm_<a>_<b>`` for
    every pair, so such an old room can hold a ``dm_<len>_...`` id already:
    then the hash form ``dm_<40 hex>`` (one underscore) is used. The room is
    always found by its key, never by decoding its id.
    """
    first, second = sorted((a, b))
    readable = f"dm_{first}_{second}" if "_" not in first + second else f"dm_{len(first)}_{first}_{second}"
    digest = hashlib.sha256(dm_key(a, b).encode()).hexdigest()[:40]
    return readable, f"dm_{digest}"
