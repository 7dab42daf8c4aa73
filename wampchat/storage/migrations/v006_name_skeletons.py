"""Names are compared by what they look like: keys become TS #39 skeletons, and usernames get one too.

Until this version ``users.display_key`` and ``online.nick_key`` held the
case-folded name, so Cyrillic ``аlice`` or ``alice`` with a zero-width
space was a different name from ``alice``. They now hold
:func:`wampchat.names.name_skeleton` of the name, which is equal for names
that look alike, and the new ``users.username_key`` (indexed) holds the
username's, so a nick or display name is checked against both with an
index (a username like ``mom`` has the key ``rnorn``, so comparing the key
with the username itself no longer works). The keys are computed here in
Python, row by row, so both engines get exactly the keys the server
computes. Names already stored are kept as they are, also where they would
be refused now or where two of them now have one key: only new names are
checked.
"""
from wampchat.names import name_skeleton


def upgrade(tx, engine):
    tx.execute("ALTER TABLE users ADD COLUMN username_key TEXT")
    tx.execute("CREATE INDEX users_by_username_key ON users (username_key)")
    for row in tx.query("SELECT username, display_name FROM users"):
        tx.execute("UPDATE users SET username_key = ?, display_key = ? WHERE username = ?",
                   (name_skeleton(row["username"]), name_skeleton(row["display_name"] or row["username"]),
                    row["username"]))
    for row in tx.query("SELECT username, node, nick FROM online"):
        tx.execute("UPDATE online SET nick_key = ? WHERE username = ? AND node = ?",
                   (name_skeleton(row["nick"]), row["username"], row["node"]))
