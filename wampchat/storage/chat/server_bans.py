"""
Server bans (``chat.admin.ban``): an account, or a guest and its client address, may not log in until
``until`` (NULL: until unbanned). The ban is written with its audit entry and the revocation that ends the
user's sessions on every node, in one transaction.
"""
from wampchat.storage.chat import accounts, audit, revocations

ACTIVE = "(until IS NULL OR until > ?)"
BANNED = "wampchat.error.banned"


def ban(tx, user: str, address: str | None, actor: str, reason: str | None, now: int, until: int | None,
        node: str) -> None:
    tx.execute("INSERT INTO server_bans (username, address, by_user, reason, ts, until) VALUES (?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (username) DO UPDATE SET address = COALESCE(excluded.address, server_bans.address), "
               "by_user = excluded.by_user, reason = excluded.reason, ts = excluded.ts, until = excluded.until",
               (user, address, actor, reason, now, until))
    audit.append(tx, now, actor, "server_ban", None, user, reason)
    revocations.append(tx, now, node, revocations.SESSIONS, user, None, BANNED)


def unban(tx, user: str, actor: str, now: int) -> bool:
    """Lift a server ban in force; False when there was none."""
    tx.execute(f"DELETE FROM server_bans WHERE username = ? AND {ACTIVE}", (user, now))
    if tx.rowcount != 1:
        return False
    audit.append(tx, now, actor, "server_unban", None, user)
    return True


def bans(tx, now: int) -> list:
    """Server bans in force, newest first: ``{user, by, reason, until}``."""
    rows = tx.query(f"SELECT username, by_user, reason, until FROM server_bans WHERE {ACTIVE} ORDER BY ts DESC",
                    (now,))
    return [{"user": r["username"], "by": r["by_user"], "reason": r["reason"], "until": r["until"]} for r in rows]


def login_ban(tx, user: str, address: str | None, now: int) -> dict | None:
    """The ban that refuses this login (by the user, or for a guest by its address), or None."""
    params = [now, user]
    by_address = ""
    if address is not None:
        by_address = " OR address = ?"
        params.append(address)
    row = tx.one(f"SELECT reason, until FROM server_bans WHERE {ACTIVE} AND (username = ?{by_address}) "
                 "ORDER BY until IS NULL DESC, until DESC LIMIT 1", params)
    return None if row is None else {"reason": row["reason"], "until": row["until"]}


def guest_login(tx, user: str, address: str | None, nick_key: str, now: int) -> tuple:
    """A guest's join hook, asked in one transaction (one trip to the database thread, not two): the ban
    refusing the login (or None), whether ``nick_key`` is a user's name or shown by another online user,
    and whether the freshly drawn guest id ``user`` is held by a session online on some node already."""
    ban = login_ban(tx, user, address, now)
    if ban is not None:
        return ban, False, False
    id_held = tx.one("SELECT 1 AS x FROM online WHERE username = ?", (user,)) is not None
    return None, accounts.name_in_use(tx, nick_key, user), id_held


def guest_logins(tx, requests: list) -> list:
    """The guest_login of each ``(user, address, nick_key, now)``, in one transaction: in a reconnect storm
    the guests' checks arriving together share a trip to the database thread and a transaction."""
    return [guest_login(tx, *request) for request in requests]


def account_login(tx, user: str, now: int) -> tuple:
    """An account's join hook in one transaction: the ban refusing the login (or None), and the display name."""
    ban = login_ban(tx, user, None, now)
    return ban, None if ban is not None else accounts.display_name(tx, user)
