"""DM rooms are found by their pair of users, not by their id; stored text is what was checked.

Before this version a DM's id was ``dm_<a>_<b>``, which is not one-to-one
when usernames hold ``_``: (``gh_ij``, ``kl``) and (``gh``, ``ij_kl``) got the
same room. ``rooms.dm_key`` (unique) now holds the two usernames, sorted and
joined by a space, and ``chat.dm.open`` looks the room up by it. Existing
DMs get their key from their two members; a DM with fewer members left
gets it from its id where the id can be read only one way, and otherwise
keeps none (it stays readable by its members, and the pair's next
``chat.dm.open`` makes a new room).

Texts stored while the length check looked at the stripped text but the
whole text was kept (whitespace padding of any length) lose that padding
and are cut to the limit, so no stored message is longer than a send may
be now.
"""
import re

USERNAME = re.compile(r"^[a-z0-9_]{2,32}$")
TEXT_MAX = 4000


def upgrade(tx, engine):
    tx.execute("ALTER TABLE rooms ADD COLUMN dm_key TEXT")
    tx.execute("CREATE UNIQUE INDEX rooms_by_dm_key ON rooms (dm_key)")
    keys = {}
    for row in tx.query("SELECT id FROM rooms WHERE private AND owner IS NULL AND id LIKE 'dm!_%' ESCAPE '!'"):
        members = [r["username"] for r in tx.query("SELECT username FROM members WHERE room = ?", (row["id"],))]
        key = _key_of(row["id"], members)
        if key is not None and key not in keys.values():
            keys[row["id"]] = key
    for room_id, key in keys.items():
        tx.execute("UPDATE rooms SET dm_key = ? WHERE id = ?", (key, room_id))
    for row in tx.query("SELECT id, text FROM messages WHERE length(text) > ?", (TEXT_MAX,)):
        tx.execute("UPDATE messages SET text = ? WHERE id = ?", (row["text"].strip()[:TEXT_MAX], row["id"]))


def _key_of(room_id, members):
    """The sorted pair a version-4 DM id belonged to, from its members or (if that is certain) its id."""
    if len(members) == 2:
        return " ".join(sorted(members))
    pairs = _readings(room_id[len("dm_"):])
    if len(pairs) == 1 and all(member in pairs[0] for member in members):
        return " ".join(pairs[0])
    return None


def _readings(rest):
    """Every (a, b) with a <= b, both valid usernames, such that ``a + "_" + b == rest``."""
    found = []
    for index, char in enumerate(rest):
        if char == "_":
            a, b = rest[:index], rest[index + 1:]
            if a <= b and USERNAME.match(a) and USERNAME.match(b):
                found.append((a, b))
    return found
