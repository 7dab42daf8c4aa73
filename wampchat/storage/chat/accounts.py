"""
Users: accounts, their credentials and display names, and which names are taken.

A guest is no account but holds a name while online (its ``online`` row),
so the questions "is this a user" and "is this name taken" look there too.
"""
from wampchat.router.credentials import Credentials
from wampchat.storage.chat.rows import name_key

NAMES_PER_QUERY = 500  # a batch mentioning more names than this asks in several queries


def add_user(tx, creds, display_name, created):
    """Insert a user; Conflict (from the database) when the name is taken."""
    tx.execute(
        "INSERT INTO users (username, username_key, role, display_name, display_key, password_hash, cra_salt, "
        "cra_key, cra_iterations, cra_keylen, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (creds.authid, name_key(creds.authid), creds.role, display_name, name_key(display_name or creds.authid),
         creds.password_hash, creds.cra_salt, creds.cra_key, creds.cra_iterations, creds.cra_keylen, created),
    )


def get_user(tx, username):
    return tx.one("SELECT * FROM users WHERE username = ?", (username,))


def user_dict(tx, username):
    """A user's row as a plain dict (what crosses back to the reactor), or None."""
    row = get_user(tx, username)
    return dict(row) if row is not None else None


def update_user(tx, username, role=None, display_name=None):
    """Change a user's role and/or display name; False when there is no such user."""
    if role is not None:
        tx.execute("UPDATE users SET role = ? WHERE username = ?", (role, username))
    if display_name is not None:
        tx.execute("UPDATE users SET display_name = ?, display_key = ? WHERE username = ?",
                   (display_name, name_key(display_name), username))
    return get_user(tx, username) is not None


def list_users(tx):
    return tx.query("SELECT username, role, display_name FROM users ORDER BY username")


def credentials(tx, authid):
    """The router's Credentials of a user, or None (also for a deleted account: it never logs in again)."""
    row = get_user(tx, authid)
    if row is None or row["deleted"]:
        return None
    return Credentials(row["username"], row["role"], row["password_hash"], row["cra_salt"], row["cra_key"],
                       row["cra_iterations"], row["cra_keylen"])


def display_name(tx, username):
    """A registered user's display name (the username when none is set), or None when there is no such user."""
    row = tx.one("SELECT display_name FROM users WHERE username = ?", (username,))
    return None if row is None else row["display_name"] or username


def known_user(tx, username):
    """A user's display name, or the nick of an online guest; None for nobody."""
    name = display_name(tx, username)
    if name is None:
        row = tx.one("SELECT nick FROM online WHERE username = ? ORDER BY node LIMIT 1", (username,))
        name = row["nick"] if row is not None else None
    return name


def existing_users(tx, names):
    """Which of ``names`` are users: registered, or guests online on some node (who may read any public room).

    One query for a whole send batch; only a batch naming more than
    :data:`NAMES_PER_QUERY` different people takes more.
    """
    return existing_users_later(tx, names)()


def existing_users_later(tx, names):
    """:func:`existing_users` sent now (:meth:`Transaction.later`), read when the function it returns is called."""
    queries = [tx.later(f"SELECT username FROM users WHERE username IN ({marks}) "
                        f"UNION SELECT username FROM online WHERE username IN ({marks})", chunk + chunk)
               for chunk, marks in in_chunks(names)]
    return lambda: {r["username"] for later in queries for r in later.rows()}


def in_chunks(names):
    """``names`` sorted, in chunks of at most :data:`NAMES_PER_QUERY`, each with the ``?, ?, ...`` of its
    IN list: a batch's queries about many people stay within every engine's parameter limit."""
    names = sorted(names)
    for start in range(0, len(names), NAMES_PER_QUERY):
        chunk = names[start:start + NAMES_PER_QUERY]
        yield chunk, ", ".join("?" * len(chunk))


def name_in_use(tx, key, guest):
    """Is ``key`` (a name_key) a user's name or display name, or shown by an online user other than ``guest``?"""
    if tx.one("SELECT 1 AS x FROM users WHERE username_key = ? OR display_key = ?", (key, key)) is not None:
        return True
    return tx.one("SELECT 1 AS x FROM online WHERE nick_key = ? AND username != ?", (key, guest)) is not None


# -- self-service (chat.user.update, change_password, delete) ----------------------------------------
DELETED_NICK = "Deleted user"   # what a deleted account's messages and name show from then on


def name_used_by_others(tx, key, user):
    """Is ``key`` (a name_key) the name or display name of a user other than ``user``, or shown online by one?"""
    if tx.one("SELECT 1 AS x FROM users WHERE (username_key = ? OR display_key = ?) AND username != ?",
              (key, key, user)) is not None:
        return True
    return tx.one("SELECT 1 AS x FROM online WHERE nick_key = ? AND username != ?", (key, user)) is not None


def set_display_name(tx, user, name):
    """A new display name for ``user``, also in their online rows (every node's nick checks see it at once)."""
    tx.execute("UPDATE users SET display_name = ?, display_key = ? WHERE username = ?", (name, name_key(name), user))
    tx.execute("UPDATE online SET nick = ?, nick_key = ? WHERE username = ?", (name, name_key(name), user))


def set_credentials(tx, creds):
    """Replace a live account's password hash and WAMP-CRA secret; False when there is no such account."""
    tx.execute("UPDATE users SET password_hash = ?, cra_salt = ?, cra_key = ?, cra_iterations = ?, cra_keylen = ? "
               "WHERE username = ? AND deleted = ?",
               (creds.password_hash, creds.cra_salt, creds.cra_key, creds.cra_iterations, creds.cra_keylen,
                creds.authid, False))
    return tx.rowcount == 1
